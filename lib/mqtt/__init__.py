"""MQTT 3.1.1 for MicroPython and CPython: codec and session (no I/O), blocking and asyncio clients,
a reconnecting supervisor and a durable outbox.

    from mqtt import MQTTClient                  # umqtt.simple-like, plain TCP or ssl=<SSLContext>
    from mqtt import RobustClient, Outbox        # reconnects, keepalive health, durable QoS 1
    from mqtt import MQTTAsyncClient             # asyncio
    from mqtt import AsyncRobustClient           # asyncio supervisor over the same outbox

Names load on first use, so `import mqtt.codec` alone stays small.
"""
_WHERE = {
    "MQTTClient": "mqtt.client", "RobustClient": "mqtt.robust", "Backoff": "mqtt.robust",
    "Outbox": "mqtt.outbox", "MemoryOutbox": "mqtt.outbox", "MQTTAsyncClient": "mqtt.aclient",
    "AsyncRobustClient": "mqtt.arobust",
    "Session": "mqtt.session",
}


def __getattr__(name):
    mod = _WHERE.get(name)
    if mod is not None:
        return getattr(__import__(mod, None, None, (name,)), name)
    if name[0] != "_":
        # `from mqtt import codec` asks here before importing the submodule on MicroPython.
        __import__("mqtt.errors")
        err = getattr(globals()["errors"], name, None)
        if err is not None:
            return err
        __import__("mqtt." + name)
        return globals()[name]
    raise AttributeError(name)

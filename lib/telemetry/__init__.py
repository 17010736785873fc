"""Telemetry node: sensors -> JSON payload -> durable QoS 1 publish over TLS 1.3, then sleep.

    board.py    the board profile (boards/<name>.json, deployed as board.json) and what the port offers
    sensors.py  readings named by the profile (chip temperature, free heap, RSSI; simulated on the VM)
    payload.py  the JSON message: device id, sequence number, timestamp, readings
    store.py    small durable blobs (the TLS session): RTC memory on ESP32, a flash file elsewhere
    clock.py    Unix time, NTP, and the time floor of the certificate clock policy
    node.py     the loop: connect, publish through RobustClient + Outbox, keep the session, sleep

Nothing here imports CPython-only modules: it runs on the boards, on the unix VM and on CPython.
"""

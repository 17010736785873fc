# boot.py: runs first after every reset, including each wake from deep sleep.
#
# The record buffers are reserved before anything else is imported: a MicroPython heap never moves
# objects, so once modules and their objects are loaded, 16 KB in one piece may no longer exist.
import tls13.bufpool

tls13.bufpool.reserve()


def _join_wifi():
    # The unix VM standing in for a board has no network.WLAN: telemetry.wifi.join returns None.
    from telemetry.app import load_json
    from telemetry.wifi import join
    try:
        cfg = load_json("config.json")
    except (OSError, ValueError) as e:
        print("BOOT no usable config.json (%s): Wi-Fi not joined" % e)
        return None
    return join(cfg, load_json("secrets.json", {}))


wifi = _join_wifi()

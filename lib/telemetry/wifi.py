"""Wi-Fi station with retry (boot.py joins; the node rejoins when the link drops).

On the unix VM there is no network.WLAN: the host's network is already up and `join` returns None.
"""
from mqtt.session import ticks_add, ticks_diff, ticks_ms  # the port's, or CPython stand-ins
from telemetry.board import sleep_ms


class Wifi:
    def __init__(self, wlan, ssid, password, timeout_ms=20000, retries=5, log=print, pause_ms=1000):
        self.wlan = wlan
        self.ssid = ssid
        self.password = password
        self.timeout_ms = timeout_ms
        self.retries = retries
        self.log = log
        self.pause_ms = pause_ms
        self._next_try = ticks_ms()

    def connected(self):
        return self.wlan.isconnected()

    def connect(self):
        """Join, trying `retries` times with a growing pause; True when connected."""
        w = self.wlan
        w.active(True)
        pause = self.pause_ms
        for attempt in range(1, self.retries + 1):
            if w.isconnected():
                break
            try:
                w.connect(self.ssid, self.password)
            except OSError as e:  # e.g. "Wifi Internal Error" while a previous attempt winds down
                self.log("WIFI connect: %r" % (e,))
            t0 = ticks_ms()
            while not w.isconnected() and ticks_diff(ticks_ms(), t0) < self.timeout_ms:
                sleep_ms(100)
            if w.isconnected():
                break
            self.log("WIFI attempt %d/%d to %r failed (status %r)" % (attempt, self.retries, self.ssid,
                                                                   _status(w)))
            try:
                w.disconnect()
            except OSError:
                pass
            sleep_ms(pause)
            pause = min(pause * 2, 15000)
        if w.isconnected():
            self.log("WIFI connected %s" % (w.ifconfig()[0],))
            return True
        return False

    def ensure(self):
        """Rejoin after the link dropped, at most once every 30 s (the MQTT supervisor backs off too)."""
        if self.wlan.isconnected() or ticks_diff(ticks_ms(), self._next_try) < 0:
            return
        self._next_try = ticks_add(ticks_ms(), 30000)
        self.retries, r = 1, self.retries
        try:
            self.connect()
        finally:
            self.retries = r


def _status(w):
    try:
        return w.status()
    except (AttributeError, OSError):
        return None


def join(cfg, secrets, log=print):
    """A connected Wifi from config["wifi"] and secrets["wifi_password"], or None where the port has no
    Wi-Fi (or no SSID is configured)."""
    try:
        import network
    except ImportError:
        return None
    if not hasattr(network, "WLAN"):
        return None
    wc = cfg.get("wifi") or {}
    if not wc.get("ssid"):
        log("WIFI no ssid in config.json: skipping")
        return None
    country = wc.get("country")
    if country and hasattr(network, "country"):
        network.country(country)
    if hasattr(network, "hostname") and cfg.get("device_id"):
        try:
            network.hostname(cfg["device_id"])
        except (OSError, ValueError):
            pass
    wifi = Wifi(network.WLAN(network.STA_IF), wc["ssid"], secrets.get("wifi_password", ""),
                int(wc.get("timeout_s", 20) * 1000), wc.get("retries", 5), log)
    wifi.connect()
    return wifi

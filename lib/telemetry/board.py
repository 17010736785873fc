"""The board a node runs on: its profile and what the MicroPython port underneath offers.

The profile is boards/<name>.json from the repository, copied to the device as board.json by
`mptls build` (which adds `built_at`, the build time in Unix seconds, a floor for the clock). Without
one, a minimal profile for the running port is used.
"""
import sys

PORT = sys.platform          # "esp32", "rp2", "linux" (the unix VM), ...
REAL_PORTS = ("esp32", "rp2")

try:
    from time import sleep_ms
except ImportError:
    import time

    def sleep_ms(ms):
        time.sleep(ms / 1000)

_FALLBACK = {
    "esp32": {"heap_kb": 110, "deep_sleep": True, "rtc_memory": 2048, "session_store": "rtc",
              "sensors": {"chip_temp_c": "esp32_raw_temperature", "heap_free": "heap_free"}},
    "rp2": {"heap_kb": 160, "deep_sleep": False, "rtc_memory": 0, "session_store": "file",
            "sensors": {"chip_temp_c": "rp2_adc_temperature", "heap_free": "heap_free"}},
}
_DEFAULT_ORDER = ["TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"]


def load_profile(path="board.json"):
    import json
    try:
        with open(path) as f:
            return json.load(f)
    except OSError:
        prof = dict(_FALLBACK.get(PORT, {"sensors": {"chip_temp_c": "simulated_temperature",
                                                      "heap_free": "heap_free"}}))
        prof["board"] = PORT
        return prof


def _machine():
    try:
        import machine
        return machine
    except ImportError:
        return None


class Board:
    def __init__(self, profile, name=None):
        self.profile = profile
        self.name = name or profile.get("board") or PORT
        # On the VM standing in for a board, sensors the port lacks are simulated.
        self.emulated = PORT not in REAL_PORTS

    def get(self, key, default=None):
        v = self.profile.get(key)
        return default if v is None else v

    def cipher_string(self):
        return ":".join(self.get("cipher_order", _DEFAULT_ORDER))

    def can_deep_sleep(self):
        m = _machine()
        return bool(self.get("deep_sleep", False)) and m is not None and hasattr(m, "deepsleep")

    def deep_sleep(self, ms):
        """Deep sleep where the board has it (on a board this does not return: it wakes through a
        reset and main.py runs again); elsewhere sleep in place and return."""
        if self.can_deep_sleep():
            _machine().deepsleep(max(int(ms), 1))
        sleep_ms(max(int(ms), 0))

    def rtc(self):
        """machine.RTC() when the profile says it has RTC memory and the port provides it."""
        if self.get("rtc_memory", 0) <= 0:
            return None
        m = _machine()
        if m is None or not hasattr(m, "RTC"):
            return None
        try:
            r = m.RTC()
            r.memory()
            return r
        except (AttributeError, OSError, TypeError):
            return None

    def unique_id(self):
        m = _machine()
        try:
            import binascii
            return binascii.hexlify(m.unique_id()).decode()
        except (AttributeError, ImportError, TypeError):
            return None

    def reset_cause(self):
        m = _machine()
        try:
            c = m.reset_cause()
        except AttributeError:
            return "unknown"
        if c == getattr(m, "DEEPSLEEP_RESET", -1):
            return "deepsleep"
        if c == getattr(m, "PWRON_RESET", -1):
            return "power-on"
        if c == getattr(m, "SOFT_RESET", -1):
            return "soft"
        return str(c)

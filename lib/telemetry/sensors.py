"""Readings named by the board profile: {"chip_temp_c": "esp32_raw_temperature", ...}.

Drivers return a number or None (no reading this time). On the VM standing in for a board, a driver
whose hardware module is missing falls back to a simulation, so the emulated board reports plausible
values; on a real board a missing driver just leaves the reading out.
"""
import gc
import math
import os


def _esp32_raw_temperature():
    import esp32
    f = esp32.raw_temperature()  # degrees Fahrenheit (classic ESP32)
    if f == 128:
        return None  # chips without a calibrated sensor report a constant 128 (53.3 C)
    return (f - 32) / 1.8


def _esp32_mcu_temperature():
    import esp32
    return esp32.mcu_temperature()  # degrees Celsius (ESP32-S2/S3/C3/C6)


def _rp2_adc_temperature():
    from machine import ADC
    # ADC input 4 is the on-die sensor: Vbe = 0.706 V at 27 C, slope -1.721 mV/C (RP2040 datasheet;
    # the RP2350A has it on the same input).
    v = ADC(4).read_u16() * 3.3 / 65535
    return 27 - (v - 0.706) / 0.001721


def _heap_free():
    gc.collect()
    return gc.mem_free()


def _wlan_rssi():
    import network
    w = network.WLAN(network.STA_IF)
    if not w.isconnected():
        return None
    return w.status("rssi")


def _ticks_s():
    import time
    try:
        return time.ticks_ms() / 1000
    except AttributeError:
        return time.monotonic()


def _jitter(span):
    b = os.urandom(1)[0]
    return (b / 255 - 0.5) * span


class _Sim:
    """Slow drift plus noise around a per-device base, so two emulated boards differ."""

    def __init__(self, seed):
        h = 0
        for c in seed or "":
            h = (h * 31 + ord(c)) & 0xFFFF
        self.offset = (h % 600) / 100  # 0..6

    def temperature(self):
        t = _ticks_s()
        return 38 + self.offset + 2.5 * math.sin(t / 40) + _jitter(0.4)

    def rssi(self):
        return int(-58 - self.offset + _jitter(4))


DRIVERS = {
    "esp32_raw_temperature": _esp32_raw_temperature,
    "esp32_mcu_temperature": _esp32_mcu_temperature,
    "rp2_adc_temperature": _rp2_adc_temperature,
    "heap_free": _heap_free,
    "wlan_rssi": _wlan_rssi,
}
_SIMULATED = {
    "esp32_raw_temperature": "temperature", "esp32_mcu_temperature": "temperature",
    "rp2_adc_temperature": "temperature", "simulated_temperature": "temperature",
    "wlan_rssi": "rssi",
}


class Sensors:
    def __init__(self, spec, emulated=False, seed=""):
        self.spec = spec or {}
        self.names = sorted(self.spec)
        self.emulated = emulated
        self.sim = _Sim(seed)
        self.failures = 0

    def _one(self, driver):
        fn = DRIVERS.get(driver)
        if fn is not None:
            try:
                return fn()
            except Exception:  # a sensor fault must not stop the node
                if not self.emulated:
                    self.failures += 1
                    return None
        sim = _SIMULATED.get(driver)
        if sim is not None and (self.emulated or fn is None):
            return getattr(self.sim, sim)()
        return None

    def read(self):
        """[(name, value), ...] in name order; readings that failed are left out."""
        out = []
        for name in self.names:
            v = self._one(self.spec[name])
            if v is not None:
                out.append((name, v))
        return out

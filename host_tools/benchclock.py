"""Wall-clock helpers shared by the device-side benchmark scripts (MicroPython ticks or CPython's
perf_counter): now() then since(t0) -> seconds."""
import sys
import time

if sys.implementation.name == "micropython":
    def now():
        return time.ticks_us()

    def since(t0):
        return time.ticks_diff(time.ticks_us(), t0) / 1e6
else:
    now = time.perf_counter

    def since(t0):
        return time.perf_counter() - t0

# The emulated board's `machine` (MicroPython's unix port lets a file extend a built-in module):
# everything the unix port has, plus what firmware uses that only boards have. reset() and
# deepsleep() ask the board supervisor on the host (host_tools/board.py) to restart the VM, through
# a control sequence on the console; RTC memory survives those restarts the way ESP32 RTC slow memory
# survives a reset or deep sleep (the supervisor hands it to the next VM), and is empty at power-on.
from umachine import *  # noqa: F401,F403

import binascii
import os
import sys
import time

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5
RTC_MEMORY_MAX = 2048


def _env(name, default=""):
    v = os.getenv(name)
    return default if v is None else v


_rtc_mem = binascii.unhexlify(_env("MPTLS_RTC_MEMORY"))


def reset_cause():
    return int(_env("MPTLS_RESET_CAUSE", "1"))


def unique_id():
    return binascii.unhexlify(_env("MPTLS_UNIQUE_ID", "00000000"))


def _control(kind, arg):
    # In small pieces: a board needs no heap to sleep, so neither may its emulation.
    w = sys.stdout.write
    w("\x1b]mptls;")
    w(kind)
    w(";%d;" % arg)
    for i in range(0, len(_rtc_mem), 32):
        w(binascii.hexlify(_rtc_mem[i:i + 32]))
    w("\x07")
    while True:  # the supervisor ends this VM now
        time.sleep(1)


def reset():
    _control("reset", 0)


def soft_reset():
    _control("reset", 0)


def deepsleep(ms=0):
    _control("deepsleep", int(ms))


def lightsleep(ms=0):
    time.sleep_ms(int(ms))


class RTC:
    def memory(self, data=None):
        global _rtc_mem
        if data is None:
            return _rtc_mem
        if len(data) > RTC_MEMORY_MAX:
            raise ValueError("RTC memory holds %d bytes" % RTC_MEMORY_MAX)
        _rtc_mem = bytes(data)

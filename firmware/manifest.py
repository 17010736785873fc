# Freezes the TLS 1.3 stack, the MQTT client and the telemetry node (lib/) into a MicroPython
# firmware image, optionally with the firmware's boot.py and main.py. Frozen bytecode runs from flash:
# the ~220 KB that these modules occupy when the VM loads them into its heap cost a board no heap at
# all, which is what makes the stack fit an ESP32's ~110 KB.
#
# Build against a MicroPython checkout (v1.24 or later; CI does not build firmware):
#
#   git clone https://github.com/micropython/micropython && cd micropython
#   make -C mpy-cross
#   # ESP32 / ESP32-S3, with an ESP-IDF 5.x environment sourced (BOARD=ESP32_GENERIC_S3 for the S3):
#   make -C ports/esp32 BOARD=ESP32_GENERIC submodules
#   make -C ports/esp32 BOARD=ESP32_GENERIC FROZEN_MANIFEST=/path/to/repo/firmware/manifest.py
#   # Pico W / Pico 2 W (BOARD=RPI_PICO2_W for the Pico 2 W):
#   make -C ports/rp2 BOARD=RPI_PICO_W submodules
#   make -C ports/rp2 BOARD=RPI_PICO_W FROZEN_MANIFEST=/path/to/repo/firmware/manifest.py
#   # the same with the app frozen too:
#   MPTLS_FREEZE_APP=1 make -C ports/esp32 BOARD=ESP32_GENERIC FROZEN_MANIFEST=...
#
# Flash it as usual (esptool.py write_flash 0x1000 ports/esp32/build-ESP32_GENERIC/firmware.bin, or
# copy ports/rp2/build-RPI_PICO_W/firmware.uf2 to the Pico's USB drive), then copy only configuration
# and credentials: `mptls deploy --board esp32 --port /dev/ttyUSB0 --no-lib`.
#
# A frozen boot.py/main.py takes precedence over files of the same name on the board (pyexec looks
# in the frozen modules first): leave MPTLS_FREEZE_APP unset to keep them as replaceable files.
#
# The manifest runs with its own directory as the working directory, so relative paths below are
# relative to firmware/.
import os

# The board's own manifest where it has one (RPI_PICO_W's adds the CYW43 network driver), else the
# port's default: either way ntptime, asyncio and the network helpers stay in.
try:
    include("$(BOARD_DIR)/manifest.py")  # noqa: F821
except Exception:
    include("$(PORT_DIR)/boards/manifest.py")  # noqa: F821

package("tls13", base_path="../lib")      # noqa: F821
package("mqtt", base_path="../lib")       # noqa: F821
package("telemetry", base_path="../lib")  # noqa: F821

# The pure SHA-384/512 fallback (TLS_AES_256_GCM_SHA384, P-384 chains) as the flat module _sha512,
# when adafruit-circuitpython-hashlib is installed where the build runs.
try:
    import adafruit_hashlib

    module("_sha512.py", base_path=os.path.dirname(adafruit_hashlib.__file__))  # noqa: F821
except ImportError:
    pass

if os.environ.get("MPTLS_FREEZE_APP"):
    module("boot.py", base_path=".")  # noqa: F821
    module("main.py", base_path=".")  # noqa: F821

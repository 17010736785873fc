# main.py: the telemetry node. Runs after boot.py on every reset and every deep-sleep wake.
#
#   config.json   device id, Wi-Fi SSID, broker, topics, interval, board (firmware/config.example.json)
#   secrets.json  Wi-Fi password, optional MQTT user/password (firmware/secrets.example.json)
#   board.json    the board profile (boards/<name>.json plus the build time), from `mptls build`
#   certs/        ca.crt (the broker's CA), device.crt and device.key (mTLS), from `mptls deploy`
#   state/        outbox.log (readings until acknowledged), session.bin (TLS ticket where there is no
#                 RTC memory), clock.txt (time floor)
import tls13.bufpool

if not tls13.bufpool.reserved():
    tls13.bufpool.reserve()  # boot.py did not run (e.g. main.py started by hand)


def main():
    from telemetry.app import load_json, make_context, sync_clock
    from telemetry.board import Board, load_profile
    from telemetry.node import Node

    cfg = load_json("config.json")
    secrets = load_json("secrets.json", {})
    board = Board(load_profile("board.json"), cfg.get("board"))
    # The clock first: certificates are checked against it (clock policy: tls13/x509/chain.py).
    floor = sync_clock(cfg, board, cfg.get("state_dir", "state"))
    ctx = make_context(cfg, board, floor)
    wifi = globals().get("wifi")  # joined by boot.py, rejoined by the node when the link drops
    Node(cfg, board, ctx, secrets, wifi).run(cfg.get("cycles"))


main()

"""`npsbot demo`: the whole product in a browser, with no token and no internet.

The Bot API emulator (bot/emulator), the real bot polling it (either runtime, a SQLite file
in a temporary folder or `--data DIR`), and a messenger-like page on 127.0.0.1 where one
acts as the owner or as simulated customers (runner.py starts them; web.py serves the page).
"""

"""Wyoming services: the device's own engines offered to Home Assistant.

Speech to text (asr), text to speech (tts), wake word (wake) and answers
(handle: local intents, then the LLM) over the Wyoming protocol, announced as
`_wyoming._tcp.local.`. The frame codec and the per-connection state machine
are sans-I/O; `server.py` is the thin asyncio shell; `lifecycle.py` wires it
to the daemon's engines.
"""

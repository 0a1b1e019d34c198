"""SmallWebRTC: RTVI sessions over WebRTC for Pipecat's phone and browser clients.

signalling.py (sans-I/O: offers, candidates, data-channel messages), ice.py,
audio.py (the Opus tracks), peer.py (one client as a session's Link), routes.py
(the HTTP endpoints). The session itself is rtvi/session.py, as on a WebSocket.
"""

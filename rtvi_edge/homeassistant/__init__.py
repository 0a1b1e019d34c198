"""Home Assistant, natively: the device as an ESPHome-API voice satellite.

`framing` (sans-I/O frames), `noise` (the encrypted transport), `messages`
(aioesphomeapi's protobuf classes), `entities` (what Home Assistant lists),
`connection` (one API client), `satellite` (the voice state machine),
`media` (answers fetched from Home Assistant), `server` and `zeroconf_announce`
(the I/O shell).
"""

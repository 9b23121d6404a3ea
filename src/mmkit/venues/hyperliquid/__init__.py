"""Hyperliquid perpetuals: signing, wire format, replies, REST/WebSocket client, live venue.

Modules (import what you need; nothing heavy is imported here):

* :mod:`.signing` - L1 (phantom agent) and user-signed EIP-712 signatures, signer recovery
* :mod:`.wire` - action dicts in the SDK's exact key order, from mmkit actions
* :mod:`.replies`, :mod:`.info`, :mod:`.stream` - parsers of /exchange, /info and WS replies
* :mod:`.errors` - the venue's error strings as typed reject reasons
* :mod:`.keys`, :mod:`.nonce`, :mod:`.settings` - key loading, nonces, network selection
* :mod:`.client`, :mod:`.ws`, :mod:`.venue` - the async client, the stream, the live venue
"""

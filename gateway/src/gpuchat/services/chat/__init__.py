"""The web chat: a turn prepared, streamed as typed events, stored, titled, exported."""

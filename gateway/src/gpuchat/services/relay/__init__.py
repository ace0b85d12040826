"""The stream relay: the upstream request, its deadlines, the live view of streams."""

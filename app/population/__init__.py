"""Population register and the OpenDK sync that fills it: plain modules, no HTTP.

``tokens`` (the keys a village's OpenSID sends), ``pushes`` (receiving a push and the job that
reads it), ``register`` (the register itself: replacing it atomically, aggregates, search, lookups
for the officials' queue, corrections, the access log), ``documents`` (reports, projects,
programmes, identity) and ``messages`` (OpenDK "Pesan" threads). The receiver (app/opendk) and the
officials' register pages (app/register) both import from here, never from each other.
"""

"""Many homes in one process: one hub core per home behind one web server (docs/homes.md).

`homes:` in configuration.yaml switches it on (PostgreSQL only); without it the hub is one home,
exactly as before. `directory` reads the homes from the tenancy store (declaring `homes:` into
it), `host.HomeHost` builds the cores, `dispatch` sends each request to its home.
"""

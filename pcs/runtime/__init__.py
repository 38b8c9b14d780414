"""Process plumbing: embedded servers, the `pcs up` supervisor, migrations, logging."""

-- Processes deployed through OGC API - Processes Part 2.
--
-- The component itself lives in the module store under its digest; the row
-- holds what identifies it and the package as deployed (JSON), from which
-- the process description is rebuilt at start-up. Built-in processes have
-- no row: they come from the server's configuration.

CREATE TABLE processes (
    id       TEXT    NOT NULL PRIMARY KEY,
    digest   TEXT    NOT NULL,
    package  TEXT    NOT NULL,
    created  INTEGER NOT NULL,
    updated  INTEGER NOT NULL
) STRICT;

-- Whether any process still uses a module, before it is collected.
CREATE INDEX processes_digest ON processes (digest);

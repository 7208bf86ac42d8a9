import GRDB

/// The store's schema as named migrations.
///
/// A migration is never edited once it has landed: change the schema by appending a new one.
/// A store that holds a migration this list lacks was written by a newer pipe and is refused unmodified.
enum Schema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-runs-stages-params-metrics-artifacts") { db in
            try db.execute(
                sql: """
                    CREATE TABLE runs (
                        id TEXT PRIMARY KEY NOT NULL,
                        kind TEXT NOT NULL CHECK (kind IN ('repro', 'verify')),
                        status TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted')),
                        startedAt REAL NOT NULL,
                        endedAt REAL,
                        argv TEXT NOT NULL,
                        user TEXT NOT NULL,
                        host TEXT NOT NULL,
                        pid INTEGER NOT NULL,
                        pidStartTicks INTEGER,
                        pipeVersion TEXT NOT NULL,
                        gitCommit TEXT NOT NULL,
                        gitBranch TEXT,
                        gitDirty INTEGER NOT NULL
                    ) WITHOUT ROWID;
                    CREATE INDEX runs_status ON runs(status);

                    CREATE TABLE stage_runs (
                        id INTEGER PRIMARY KEY,
                        runId TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                        stage TEXT NOT NULL,
                        signature TEXT NOT NULL,
                        outcome TEXT NOT NULL CHECK (outcome IN ('ran', 'skipped', 'restored', 'failed')),
                        reason TEXT,
                        duration REAL NOT NULL,
                        exitStatus INTEGER,
                        logPath TEXT,
                        finishedAt REAL NOT NULL
                    );
                    CREATE INDEX stage_runs_run ON stage_runs(runId);

                    CREATE TABLE params (
                        runId TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                        key TEXT NOT NULL,
                        value TEXT NOT NULL,
                        number REAL,
                        overridden INTEGER NOT NULL DEFAULT 0,
                        PRIMARY KEY (runId, key)
                    ) WITHOUT ROWID;
                    -- (key, number, value) serves both numeric and text comparisons of one param without table reads.
                    CREATE INDEX params_key_number_value ON params(key, number, value);

                    CREATE TABLE metrics (
                        id INTEGER PRIMARY KEY,
                        runId TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                        stage TEXT NOT NULL,
                        key TEXT NOT NULL,
                        value REAL NOT NULL,
                        step INTEGER NOT NULL,
                        timestamp REAL NOT NULL
                    );
                    CREATE INDEX metrics_run_key_step ON metrics(runId, key, step);

                    CREATE TABLE latest_metrics (
                        runId TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                        key TEXT NOT NULL,
                        value REAL NOT NULL,
                        step INTEGER NOT NULL,
                        timestamp REAL NOT NULL,
                        PRIMARY KEY (runId, key)
                    ) WITHOUT ROWID;
                    CREATE INDEX latest_metrics_key_value ON latest_metrics(key, value);

                    -- The latest value per (run, key) is the one with the highest step (ties: the later timestamp).
                    CREATE TRIGGER metrics_keep_latest AFTER INSERT ON metrics BEGIN
                        INSERT INTO latest_metrics (runId, key, value, step, timestamp)
                        VALUES (NEW.runId, NEW.key, NEW.value, NEW.step, NEW.timestamp)
                        ON CONFLICT (runId, key) DO UPDATE SET
                            value = excluded.value, step = excluded.step, timestamp = excluded.timestamp
                        WHERE excluded.step > latest_metrics.step
                           OR (excluded.step = latest_metrics.step AND excluded.timestamp >= latest_metrics.timestamp);
                    END;

                    CREATE TABLE artifacts (
                        id INTEGER PRIMARY KEY,
                        runId TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                        stage TEXT,
                        path TEXT NOT NULL,
                        sha256 TEXT NOT NULL,
                        size INTEGER NOT NULL
                    );
                    CREATE INDEX artifacts_run ON artifacts(runId);
                    """)
        }
        // Experiments (`pipe exp run`): which sweep and which experiment of it a run is, and for a Slurm job its id,
        // final state, Slurm's reason and log. A table of its own, so that runs without a sweep are untouched.
        migrator.registerMigration("experiment-sweeps") { db in
            try db.execute(
                sql: """
                    CREATE TABLE run_sweeps (
                        runId TEXT PRIMARY KEY NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                        sweepId TEXT NOT NULL,
                        sweepName TEXT NOT NULL,
                        experiment INTEGER NOT NULL,
                        jobId TEXT,
                        jobState TEXT,
                        jobReason TEXT,
                        jobLog TEXT
                    ) WITHOUT ROWID;
                    CREATE INDEX run_sweeps_name_experiment ON run_sweeps(sweepName, experiment);
                    """)
        }
        migrator.registerMigration("v2-run-links") { db in
            // Where a run lives on another tracking system (an MLflow server): exported there, or imported from
            // there. One row per run, system and server; the server is its base URL without credentials.
            try db.execute(
                sql: """
                    CREATE TABLE run_links (
                        runId TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                        system TEXT NOT NULL,
                        server TEXT NOT NULL,
                        experimentId TEXT NOT NULL,
                        remoteRunId TEXT NOT NULL,
                        direction TEXT NOT NULL CHECK (direction IN ('export', 'import')),
                        syncedAt REAL NOT NULL,
                        PRIMARY KEY (runId, system, server)
                    ) WITHOUT ROWID;
                    CREATE INDEX run_links_remote ON run_links(system, server, remoteRunId);
                    """)
        }
        // Metrics files recorded as histories and structured values (issue 15): a matrix or a per-class table is one
        // JSON value per run and key instead of a scalar per cell, and each recorded metrics file keeps its prefix and
        // the headline metrics its pipeline declared, in recording (stage) order, for `runs list`'s default columns.
        // Runs recorded before keep their flattened keys; the readers accept both.
        migrator.registerMigration("v3-structured-metrics-metrics-files") { db in
            try db.execute(
                sql: """
                    CREATE TABLE structured_metrics (
                        runId TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                        stage TEXT NOT NULL,
                        key TEXT NOT NULL,
                        json TEXT NOT NULL,
                        PRIMARY KEY (runId, key)
                    ) WITHOUT ROWID;

                    CREATE TABLE metrics_files (
                        id INTEGER PRIMARY KEY,
                        runId TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                        stage TEXT NOT NULL,
                        path TEXT NOT NULL,
                        prefix TEXT NOT NULL,
                        headline TEXT NOT NULL
                    );
                    CREATE INDEX metrics_files_run ON metrics_files(runId);
                    """)
        }
        return migrator
    }
}

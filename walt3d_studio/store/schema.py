"""The project database schema and its migrations.

Version N's schema is MIGRATIONS[0..N-1] applied in order, so a new version only appends a step.
Timestamps are UTC seconds since the epoch (REAL). Masks are COCO RLE JSON; boxes are x, y, w, h in pixels.
"""

MIGRATIONS: list[str] = [
    # v1: the ground floor and the tables later stages fill.
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

    CREATE TABLE cameras (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        tz TEXT NOT NULL,                 -- IANA time zone; "hour of day" windows are local time
        width INTEGER, height INTEGER,    -- set by the first source; every source must match
        calibration_json TEXT,            -- camera.json contents (walt3d_studio.camera.Camera), or NULL
        created_at REAL NOT NULL
    );

    CREATE TABLE sources (
        id INTEGER PRIMARY KEY,
        camera_id INTEGER NOT NULL REFERENCES cameras(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('images', 'video')),
        path TEXT NOT NULL,
        fps REAL,                         -- video: container or user rate; images: NULL
        start_time REAL,                  -- video: capture time of frame 0
        time_origin TEXT NOT NULL,        -- how capture times were found: filename/exif/mtime/fps/metadata/user
        n_frames INTEGER NOT NULL,
        skipped_json TEXT NOT NULL DEFAULT '[]',  -- unreadable files or frames, with reasons
        added_at REAL NOT NULL,
        UNIQUE (camera_id, path)
    );

    CREATE TABLE frames (
        id INTEGER PRIMARY KEY,
        camera_id INTEGER NOT NULL REFERENCES cameras(id) ON DELETE CASCADE,
        source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
        source_index INTEGER NOT NULL,    -- decode index within the source (exact, never a timestamp seek)
        file_name TEXT,                   -- image sources: path relative to the source folder
        pts INTEGER,                      -- video sources: presentation timestamp, for exact seeking
        capture_time REAL NOT NULL,
        UNIQUE (source_id, source_index)
    );
    CREATE INDEX frames_by_time ON frames (camera_id, capture_time, source_id, source_index);

    CREATE TABLE backgrounds (
        id INTEGER PRIMARY KEY,
        camera_id INTEGER NOT NULL REFERENCES cameras(id) ON DELETE CASCADE,
        window_key TEXT NOT NULL,         -- e.g. "h07" (local hour 07) or "all"
        n_frames INTEGER NOT NULL,
        first_time REAL, last_time REAL,
        array_path TEXT NOT NULL,         -- relative to the project folder; float32 median in an .npz
        settings_json TEXT NOT NULL,
        created_at REAL NOT NULL,
        UNIQUE (camera_id, window_key)
    );

    CREATE TABLE tracks (
        id INTEGER PRIMARY KEY,
        camera_id INTEGER NOT NULL REFERENCES cameras(id) ON DELETE CASCADE,
        source_id INTEGER REFERENCES sources(id) ON DELETE CASCADE,
        category TEXT NOT NULL,
        first_frame_id INTEGER, last_frame_id INTEGER,
        n_detections INTEGER NOT NULL DEFAULT 0,
        n_mined INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL
    );

    CREATE TABLE detections (
        id INTEGER PRIMARY KEY,
        frame_id INTEGER NOT NULL REFERENCES frames(id) ON DELETE CASCADE,
        track_id INTEGER REFERENCES tracks(id) ON DELETE SET NULL,
        detector TEXT NOT NULL,
        category TEXT NOT NULL,
        score REAL NOT NULL,
        x REAL NOT NULL, y REAL NOT NULL, w REAL NOT NULL, h REAL NOT NULL,
        area REAL,
        mask_rle TEXT,                    -- full-image COCO RLE as JSON, or NULL for box-only detectors
        crop_path TEXT,                   -- RGBA crop of the object (later stages never decode video)
        created_at REAL NOT NULL
    );
    CREATE INDEX detections_by_frame ON detections (frame_id);
    CREATE INDEX detections_by_track ON detections (track_id);

    -- The machine's occlusion verdict per detection; a person's label lives in `labels` and wins.
    CREATE TABLE verdicts (
        detection_id INTEGER PRIMARY KEY REFERENCES detections(id) ON DELETE CASCADE,
        verdict TEXT NOT NULL,            -- unoccluded / occluded / truncated / not_object
        decided_by TEXT NOT NULL,         -- rule / classifier
        p_unoccluded REAL,
        model_version TEXT,
        reasons_json TEXT NOT NULL DEFAULT '{}'
    );

    -- Human labels: occlusion verdicts, fit reviews, ... One row per edit; the newest row wins.
    CREATE TABLE labels (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,               -- occlusion / fit_review / ...
        detection_id INTEGER REFERENCES detections(id) ON DELETE CASCADE,
        track_id INTEGER REFERENCES tracks(id) ON DELETE CASCADE,
        value TEXT,                       -- NULL clears an earlier label (undo)
        who TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX labels_by_detection ON labels (kind, detection_id);
    CREATE INDEX labels_by_track ON labels (kind, track_id);

    CREATE TABLE keypoints (
        id INTEGER PRIMARY KEY,
        detection_id INTEGER NOT NULL REFERENCES detections(id) ON DELETE CASCADE,
        schema TEXT NOT NULL,             -- vehicle12 / person17
        points_json TEXT NOT NULL,        -- COCO triplets [x, y, v, ...]
        confidences_json TEXT,            -- model predictions only
        origin TEXT NOT NULL,             -- human / model / fit
        who TEXT,
        model_version TEXT,
        created_at REAL NOT NULL
    );
    CREATE INDEX keypoints_by_detection ON keypoints (detection_id, origin);

    CREATE TABLE fits (
        id INTEGER PRIMARY KEY,
        detection_id INTEGER REFERENCES detections(id) ON DELETE CASCADE,
        track_id INTEGER REFERENCES tracks(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,               -- vehicle / person
        method TEXT NOT NULL,
        params_json TEXT NOT NULL,
        quality_json TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL
    );

    CREATE TABLE composites (
        id INTEGER PRIMARY KEY,
        camera_id INTEGER NOT NULL REFERENCES cameras(id) ON DELETE CASCADE,
        split TEXT NOT NULL,
        seed INTEGER NOT NULL,
        image_path TEXT NOT NULL,
        objects_json TEXT NOT NULL,
        created_at REAL NOT NULL
    );

    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,             -- running / done / failed / cancelled
        settings_json TEXT NOT NULL DEFAULT '{}',
        message TEXT,
        started_at REAL NOT NULL,
        finished_at REAL
    );
    """,
    # v2: mining. Cached per-track aggregates (kept in step with verdicts and labels by store/detections.py,
    # so the tracks panel reads one table), the rule's own verdict beside the deciding one, trained occlusion
    # classifiers, and a per-camera static-occluder mask.
    """
    ALTER TABLE tracks ADD COLUMN detector TEXT;
    ALTER TABLE tracks ADD COLUMN n_labelled INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE tracks ADD COLUMN p_unoccluded REAL;   -- mean classifier P(unoccluded) over its detections
    ALTER TABLE tracks ADD COLUMN label TEXT;          -- copy of the newest track-level human label (U/O/X)
    CREATE INDEX tracks_by_camera ON tracks (camera_id, id);

    ALTER TABLE verdicts ADD COLUMN rule_verdict TEXT; -- what the WALT rule said, whoever decided

    CREATE TABLE classifiers (
        id INTEGER PRIMARY KEY,
        version TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL DEFAULT 'occlusion',
        path TEXT NOT NULL,               -- relative to the project folder; a torch state_dict
        metrics_json TEXT NOT NULL,       -- held-out accuracy, counts, seed, time taken
        settings_json TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        created_at REAL NOT NULL
    );

    CREATE TABLE static_occluders (
        camera_id INTEGER PRIMARY KEY REFERENCES cameras(id) ON DELETE CASCADE,
        array_path TEXT NOT NULL,         -- relative to the project folder; a PNG, non-zero = occluder
        origin TEXT NOT NULL,             -- painted / learned
        created_at REAL NOT NULL
    );
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)

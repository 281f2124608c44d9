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
    # v3: the stages after mining. Every stage run is recorded; fits per track and per detection; splits by
    # track; composites with their objects; datasets written. Human rows (labels, human keypoints) are never lost
    # to a cascade: the triggers copy them into `orphans` (with their old frame, box and class) before any
    # detection or track delete takes them, so a person can re-attach or discard them. A re-run moves them to the
    # matching new detection first (store/carry_over.py), so only those without a match become orphans.
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        stage TEXT NOT NULL,              -- background / mine / classifier / keypoints-train / fit-vehicles / ...
        settings_json TEXT NOT NULL DEFAULT '{}',
        version TEXT NOT NULL,            -- walt3d_studio version that ran it
        shard_json TEXT NOT NULL DEFAULT '{}',  -- {"camera": id, "start": t0, "end": t1} or {} for the whole project
        counts_json TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'cancelled', 'interrupted')),
        message TEXT,
        who TEXT NOT NULL,                -- user@host, or the worker that ran it
        pid INTEGER, host TEXT,           -- to mark a dead run "interrupted" at the next open
        started_at REAL NOT NULL,
        finished_at REAL,
        duration_s REAL
    );
    CREATE INDEX runs_by_stage ON runs (stage, id);

    -- Human work whose detection or track went away (a re-run found no match for it, or a cascade took it).
    CREATE TABLE orphans (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,               -- the labels.kind ('occlusion', 'fit_review', ...) or 'keypoints'
        payload_json TEXT NOT NULL,       -- the row as it was (value / points, schema, who, created_at, ...)
        camera_id INTEGER, frame_id INTEGER,
        detection_id INTEGER, track_id INTEGER,   -- the ids it had (gone now; for the record only)
        category TEXT,
        box_json TEXT,                    -- [x, y, w, h] of the detection it belonged to
        mask_rle TEXT,
        orphaned_at REAL NOT NULL,
        resolved TEXT                     -- NULL while open; 'attached:DET' or 'discarded' once a person decided
    );
    CREATE INDEX orphans_open ON orphans (resolved, camera_id);

    CREATE TRIGGER keep_human_work_of_detection BEFORE DELETE ON detections BEGIN
        INSERT INTO orphans (kind, payload_json, camera_id, frame_id, detection_id, track_id, category, box_json,
                             mask_rle, orphaned_at)
        SELECT l.kind, json_object('value', l.value, 'who', l.who, 'created_at', l.created_at, 'label_id', l.id,
                                   'level', 'detection'),
               COALESCE((SELECT camera_id FROM frames WHERE id = OLD.frame_id),
                        (SELECT camera_id FROM tracks WHERE id = OLD.track_id)), OLD.frame_id, OLD.id, OLD.track_id,
               OLD.category, json_array(OLD.x, OLD.y, OLD.w, OLD.h), OLD.mask_rle, (julianday('now') - 2440587.5) * 86400.0
        FROM labels l
        WHERE l.detection_id = OLD.id AND l.id = (SELECT MAX(id) FROM labels WHERE detection_id = OLD.id
                                                   AND kind = l.kind) AND l.value IS NOT NULL;
        INSERT INTO orphans (kind, payload_json, camera_id, frame_id, detection_id, track_id, category, box_json,
                             mask_rle, orphaned_at)
        SELECT 'keypoints', json_object('schema', k.schema, 'points', json(k.points_json), 'who', k.who,
                                        'created_at', k.created_at, 'keypoints_id', k.id),
               COALESCE((SELECT camera_id FROM frames WHERE id = OLD.frame_id),
                        (SELECT camera_id FROM tracks WHERE id = OLD.track_id)), OLD.frame_id, OLD.id, OLD.track_id,
               OLD.category, json_array(OLD.x, OLD.y, OLD.w, OLD.h), OLD.mask_rle, (julianday('now') - 2440587.5) * 86400.0
        FROM keypoints k
        WHERE k.detection_id = OLD.id AND k.origin = 'human'
          AND k.id = (SELECT MAX(id) FROM keypoints WHERE detection_id = OLD.id AND origin = 'human');
    END;

    CREATE TRIGGER keep_human_work_of_track BEFORE DELETE ON tracks BEGIN
        INSERT INTO orphans (kind, payload_json, camera_id, track_id, category, orphaned_at)
        SELECT l.kind, json_object('value', l.value, 'who', l.who, 'created_at', l.created_at, 'label_id', l.id,
                                   'level', 'track'),
               OLD.camera_id, OLD.id, OLD.category, (julianday('now') - 2440587.5) * 86400.0
        FROM labels l
        WHERE l.track_id = OLD.id AND l.detection_id IS NULL
          AND l.id = (SELECT MAX(id) FROM labels WHERE track_id = OLD.id AND detection_id IS NULL AND kind = l.kind)
          AND l.value IS NOT NULL;
    END;

    -- Composite rejections are human labels too (kind 'composite_reject'): they name the composite and object.
    ALTER TABLE labels ADD COLUMN composite_id INTEGER;
    ALTER TABLE labels ADD COLUMN object_index INTEGER;

    -- v1's placeholders for fits and composites were never written; these replace them.
    DROP TABLE fits;
    DROP TABLE composites;

    -- One fit per track and kind (the newest run replaces it); machine output, so it may cascade. A person's
    -- accept / reject of a fit is a label (kind 'fit_review', on the track), which never does.
    CREATE TABLE track_fits (
        id INTEGER PRIMARY KEY,
        track_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
        run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,
        kind TEXT NOT NULL CHECK (kind IN ('vehicle', 'person')),
        method TEXT NOT NULL,             -- vehicle: keypoints+track / silhouette; person: builtin / hmr2 / ...
        version TEXT NOT NULL,
        settings_json TEXT NOT NULL DEFAULT '{}',
        shape_json TEXT NOT NULL DEFAULT '{}',   -- vehicle {"alpha": [...], "class": ...}; person {"betas", "body_model", "height_m"}
        quality_json TEXT NOT NULL DEFAULT '{}', -- reprojection_px, silhouette_iou, ground_residual_m, ...
        status TEXT NOT NULL CHECK (status IN ('ok', 'needs_review', 'failed', 'skipped')),
        reason TEXT,                      -- why skipped / failed / flagged
        created_at REAL NOT NULL,
        UNIQUE (track_id, kind)
    );

    CREATE TABLE fits (
        id INTEGER PRIMARY KEY,
        track_fit_id INTEGER NOT NULL REFERENCES track_fits(id) ON DELETE CASCADE,
        detection_id INTEGER NOT NULL REFERENCES detections(id) ON DELETE CASCADE,
        R_obj_to_cam_json TEXT,           -- 3x3 (vehicles, and the person's root orientation as a matrix)
        t_obj_to_cam_json TEXT,           -- metres, camera frame
        params_json TEXT NOT NULL DEFAULT '{}',  -- person: global_orient, body_pose, betas, transl (DESIGN)
        quality_json TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL CHECK (status IN ('ok', 'needs_review', 'failed', 'skipped')),
        reason TEXT,
        UNIQUE (track_fit_id, detection_id)
    );
    CREATE INDEX fits_by_detection ON fits (detection_id);

    CREATE TABLE splits (
        track_id INTEGER PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
        split TEXT NOT NULL CHECK (split IN ('train', 'val', 'test')),
        run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL
    );

    CREATE TABLE composites (
        id INTEGER PRIMARY KEY,
        run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,
        camera_id INTEGER NOT NULL REFERENCES cameras(id) ON DELETE CASCADE,
        split TEXT NOT NULL CHECK (split IN ('train', 'val', 'test')),
        method TEXT NOT NULL CHECK (method IN ('walt3d', 'walt2d', 'walt2d-bottom')),
        seed INTEGER NOT NULL,
        window_key TEXT NOT NULL,         -- the background window it was pasted on
        image_path TEXT NOT NULL,         -- relative to the project folder
        arrays_path TEXT,                 -- depth / normal / instance arrays, relative, or NULL
        n_objects INTEGER NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX composites_by_camera ON composites (camera_id, split, method);

    CREATE TABLE composite_objects (
        composite_id INTEGER NOT NULL REFERENCES composites(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,             -- paste order, 0 = farthest (pasted first)
        detection_id INTEGER REFERENCES detections(id) ON DELETE SET NULL,
        track_id INTEGER,
        kind TEXT NOT NULL,               -- vehicle / person
        amodal_rle TEXT NOT NULL, visible_rle TEXT NOT NULL,
        amodal_box_json TEXT NOT NULL, visible_box_json TEXT NOT NULL,
        occlusion REAL NOT NULL,
        depth_rank INTEGER NOT NULL,      -- 0 = nearest
        keypoints_json TEXT,              -- COCO triplets after visibility (DESIGN)
        pose_json TEXT,                   -- the 3D fields of DESIGN's dataset format
        PRIMARY KEY (composite_id, idx)
    );

    CREATE TABLE datasets (
        id INTEGER PRIMARY KEY,
        run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,
        path TEXT NOT NULL,
        format TEXT NOT NULL,
        settings_json TEXT NOT NULL DEFAULT '{}',
        counts_json TEXT NOT NULL DEFAULT '{}',
        checksum TEXT,
        created_at REAL NOT NULL
    );
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)

-- HaaS 0.2 (from before schema versioning) to HaaS 0.3, written by hand
-- as one transaction: what `haas-admin db upgrade heads` is measured
-- against in bench/upgrade_scale.py.  Each table is rewritten once, with
-- every foreign key dropped first and restored at the end.  Only the
-- schema bookkeeping (alembic_version, the branch labels, the ledger) is
-- left out.

BEGIN;

-- The legacy names, as the 0.2 baselines adopt them.
ALTER TABLE networkattachment RENAME TO network_attachment;
ALTER SEQUENCE networkattachment_id_seq RENAME TO network_attachment_id_seq;
ALTER TABLE network_attachment
    RENAME CONSTRAINT networkattachment_pkey TO network_attachment_pkey;
ALTER TABLE network_attachment RENAME CONSTRAINT
    networkattachment_nic_id_fkey TO network_attachment_nic_id_fkey;
ALTER TABLE network_attachment RENAME CONSTRAINT
    networkattachment_network_id_fkey TO network_attachment_network_id_fkey;
ALTER TABLE networkingaction RENAME TO networking_action;
ALTER SEQUENCE networkingaction_id_seq RENAME TO networking_action_id_seq;
ALTER TABLE networking_action
    RENAME CONSTRAINT networkingaction_pkey TO networking_action_pkey;
ALTER TABLE networking_action RENAME CONSTRAINT
    networkingaction_nic_id_fkey TO networking_action_nic_id_fkey;
ALTER TABLE networking_action RENAME CONSTRAINT
    networkingaction_new_network_id_fkey
    TO networking_action_new_network_id_fkey;
ALTER TABLE mockobm RENAME TO mock_obm;
ALTER TABLE mock_obm RENAME CONSTRAINT mockobm_pkey TO mock_obm_pkey;
ALTER TABLE mock_obm RENAME CONSTRAINT mockobm_id_fkey TO mock_obm_id_fkey;
ALTER TABLE mockswitch RENAME TO mock_switch;
ALTER TABLE mock_switch RENAME CONSTRAINT mockswitch_pkey TO mock_switch_pkey;
ALTER TABLE mock_switch
    RENAME CONSTRAINT mockswitch_id_fkey TO mock_switch_id_fkey;
ALTER TABLE powerconnect55xx RENAME TO power_connect55xx;
ALTER TABLE power_connect55xx
    RENAME CONSTRAINT powerconnect55xx_pkey TO power_connect55xx_pkey;
ALTER TABLE power_connect55xx
    RENAME CONSTRAINT powerconnect55xx_id_fkey TO power_connect55xx_id_fkey;

-- Every foreign key goes, to come back once the keys are 64-bit.
ALTER TABLE headnode DROP CONSTRAINT headnode_project_id_fkey;
ALTER TABLE hnic DROP CONSTRAINT hnic_network_id_fkey,
    DROP CONSTRAINT hnic_owner_id_fkey;
ALTER TABLE ipmi DROP CONSTRAINT ipmi_id_fkey;
ALTER TABLE mock_obm DROP CONSTRAINT mock_obm_id_fkey;
ALTER TABLE mock_switch DROP CONSTRAINT mock_switch_id_fkey;
ALTER TABLE network DROP CONSTRAINT network_access_id_fkey,
    DROP CONSTRAINT network_creator_id_fkey;
ALTER TABLE network_attachment
    DROP CONSTRAINT network_attachment_network_id_fkey,
    DROP CONSTRAINT network_attachment_nic_id_fkey;
ALTER TABLE networking_action
    DROP CONSTRAINT networking_action_new_network_id_fkey,
    DROP CONSTRAINT networking_action_nic_id_fkey;
ALTER TABLE nexus DROP CONSTRAINT nexus_id_fkey;
ALTER TABLE nic DROP CONSTRAINT nic_owner_id_fkey,
    DROP CONSTRAINT nic_port_id_fkey;
ALTER TABLE node DROP CONSTRAINT node_obm_id_fkey,
    DROP CONSTRAINT node_project_id_fkey;
ALTER TABLE port DROP CONSTRAINT port_owner_id_fkey;
ALTER TABLE power_connect55xx DROP CONSTRAINT power_connect55xx_id_fkey;
ALTER TABLE user_projects DROP CONSTRAINT user_projects_project_id_fkey,
    DROP CONSTRAINT user_projects_user_id_fkey;

-- Owners, and access lists.
ALTER TABLE network RENAME COLUMN creator_id TO owner_id;
CREATE TABLE network_projects (
    project_id bigint NOT NULL,
    network_id bigint NOT NULL,
    CONSTRAINT network_projects_pkey PRIMARY KEY (network_id, project_id)
);
INSERT INTO network_projects (project_id, network_id)
    SELECT access_id, id FROM network WHERE access_id IS NOT NULL;
CREATE INDEX network_projects_project_id_idx
    ON network_projects (project_id);

-- Each table rewritten once: 64-bit keys, and the actions' new columns.
ALTER TABLE project ALTER COLUMN id TYPE bigint;
ALTER TABLE obm ALTER COLUMN id TYPE bigint;
ALTER TABLE switch ALTER COLUMN id TYPE bigint;
ALTER TABLE node ALTER COLUMN id TYPE bigint,
    ALTER COLUMN project_id TYPE bigint, ALTER COLUMN obm_id TYPE bigint;
ALTER TABLE port ALTER COLUMN id TYPE bigint,
    ALTER COLUMN owner_id TYPE bigint;
ALTER TABLE nic ALTER COLUMN id TYPE bigint,
    ALTER COLUMN owner_id TYPE bigint, ALTER COLUMN port_id TYPE bigint;
ALTER TABLE network DROP COLUMN access_id, ALTER COLUMN id TYPE bigint,
    ALTER COLUMN owner_id TYPE bigint;
ALTER TABLE headnode ALTER COLUMN id TYPE bigint,
    ALTER COLUMN project_id TYPE bigint;
ALTER TABLE hnic ALTER COLUMN id TYPE bigint,
    ALTER COLUMN owner_id TYPE bigint, ALTER COLUMN network_id TYPE bigint;
ALTER TABLE networking_action ALTER COLUMN id TYPE bigint,
    ALTER COLUMN nic_id TYPE bigint, ALTER COLUMN new_network_id TYPE bigint,
    ADD COLUMN uuid varchar NOT NULL DEFAULT gen_random_uuid()::text,
    ADD COLUMN status varchar NOT NULL DEFAULT 'PENDING',
    ADD COLUMN type varchar NOT NULL DEFAULT 'modify_port',
    ADD CONSTRAINT networking_action_status_check
        CHECK (status = 'PENDING' OR status = 'DONE' OR status = 'ERROR'),
    ADD CONSTRAINT networking_action_type_check
        CHECK (type = 'modify_port' OR type = 'revert_port');
ALTER TABLE networking_action ALTER COLUMN uuid DROP DEFAULT,
    ALTER COLUMN status DROP DEFAULT, ALTER COLUMN type DROP DEFAULT;
ALTER TABLE network_attachment ALTER COLUMN id TYPE bigint,
    ALTER COLUMN nic_id TYPE bigint, ALTER COLUMN network_id TYPE bigint;
ALTER TABLE "user" ALTER COLUMN id TYPE bigint;
ALTER TABLE user_projects ALTER COLUMN user_id TYPE bigint,
    ALTER COLUMN project_id TYPE bigint;
ALTER TABLE vlan ALTER COLUMN id TYPE bigint;
ALTER TABLE power_connect55xx ALTER COLUMN id TYPE bigint;
ALTER TABLE nexus ALTER COLUMN id TYPE bigint;
ALTER TABLE mock_switch ALTER COLUMN id TYPE bigint;
ALTER TABLE ipmi ALTER COLUMN id TYPE bigint;
ALTER TABLE mock_obm ALTER COLUMN id TYPE bigint;

-- Unique labels and uuids.
ALTER TABLE network ADD CONSTRAINT network_label_key UNIQUE (label);
ALTER TABLE node ADD CONSTRAINT node_label_key UNIQUE (label);
ALTER TABLE project ADD CONSTRAINT project_label_key UNIQUE (label);
ALTER TABLE switch ADD CONSTRAINT switch_label_key UNIQUE (label);
ALTER TABLE networking_action
    ADD CONSTRAINT networking_action_uuid_key UNIQUE (uuid);

-- Node metadata.
CREATE TABLE metadata (
    id bigserial NOT NULL,
    label varchar NOT NULL,
    value varchar NOT NULL,
    owner_id bigint NOT NULL,
    CONSTRAINT metadata_pkey PRIMARY KEY (id),
    CONSTRAINT metadata_owner_id_key UNIQUE (owner_id, label)
);

-- The foreign keys again.
ALTER TABLE headnode ADD CONSTRAINT headnode_project_id_fkey
    FOREIGN KEY (project_id) REFERENCES project (id);
ALTER TABLE hnic ADD CONSTRAINT hnic_network_id_fkey
    FOREIGN KEY (network_id) REFERENCES network (id),
    ADD CONSTRAINT hnic_owner_id_fkey
    FOREIGN KEY (owner_id) REFERENCES headnode (id);
ALTER TABLE ipmi ADD CONSTRAINT ipmi_id_fkey
    FOREIGN KEY (id) REFERENCES obm (id);
ALTER TABLE mock_obm ADD CONSTRAINT mock_obm_id_fkey
    FOREIGN KEY (id) REFERENCES obm (id);
ALTER TABLE mock_switch ADD CONSTRAINT mock_switch_id_fkey
    FOREIGN KEY (id) REFERENCES switch (id);
ALTER TABLE network ADD CONSTRAINT network_owner_id_fkey
    FOREIGN KEY (owner_id) REFERENCES project (id);
ALTER TABLE network_projects ADD CONSTRAINT network_projects_project_id_fkey
    FOREIGN KEY (project_id) REFERENCES project (id),
    ADD CONSTRAINT network_projects_network_id_fkey
    FOREIGN KEY (network_id) REFERENCES network (id);
ALTER TABLE network_attachment
    ADD CONSTRAINT network_attachment_network_id_fkey
    FOREIGN KEY (network_id) REFERENCES network (id),
    ADD CONSTRAINT network_attachment_nic_id_fkey
    FOREIGN KEY (nic_id) REFERENCES nic (id);
ALTER TABLE networking_action
    ADD CONSTRAINT networking_action_new_network_id_fkey
    FOREIGN KEY (new_network_id) REFERENCES network (id),
    ADD CONSTRAINT networking_action_nic_id_fkey
    FOREIGN KEY (nic_id) REFERENCES nic (id);
ALTER TABLE nexus ADD CONSTRAINT nexus_id_fkey
    FOREIGN KEY (id) REFERENCES switch (id);
ALTER TABLE nic ADD CONSTRAINT nic_owner_id_fkey
    FOREIGN KEY (owner_id) REFERENCES node (id),
    ADD CONSTRAINT nic_port_id_fkey FOREIGN KEY (port_id) REFERENCES port (id);
ALTER TABLE node ADD CONSTRAINT node_obm_id_fkey
    FOREIGN KEY (obm_id) REFERENCES obm (id),
    ADD CONSTRAINT node_project_id_fkey
    FOREIGN KEY (project_id) REFERENCES project (id);
ALTER TABLE port ADD CONSTRAINT port_owner_id_fkey
    FOREIGN KEY (owner_id) REFERENCES switch (id);
ALTER TABLE power_connect55xx ADD CONSTRAINT power_connect55xx_id_fkey
    FOREIGN KEY (id) REFERENCES switch (id);
ALTER TABLE user_projects ADD CONSTRAINT user_projects_project_id_fkey
    FOREIGN KEY (project_id) REFERENCES project (id),
    ADD CONSTRAINT user_projects_user_id_fkey
    FOREIGN KEY (user_id) REFERENCES "user" (id);
ALTER TABLE metadata ADD CONSTRAINT metadata_owner_id_fkey
    FOREIGN KEY (owner_id) REFERENCES node (id);

-- Why an action failed (eba7cfa60973, the last of 0.3's core revisions).
ALTER TABLE networking_action ADD COLUMN error text;

COMMIT;

CREATE TYPE treatment_kind AS ENUM ('mitigate', 'accept', 'transfer');
ALTER TYPE risk_level ADD VALUE IF NOT EXISTS 'critical' AFTER 'high';

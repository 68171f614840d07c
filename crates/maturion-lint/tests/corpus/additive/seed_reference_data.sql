INSERT INTO control_frameworks (code, name) VALUES
    ('iso27001', 'ISO/IEC 27001:2022'),
    ('soc2', 'SOC 2'),
    ('nis2', 'NIS2 Directive')
ON CONFLICT (code) DO NOTHING;

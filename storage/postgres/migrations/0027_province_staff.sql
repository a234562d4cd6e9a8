-- Province staff (cán bộ tỉnh, Sở KH&CN): a role that reads every commune of its province.
ALTER TABLE members DROP CONSTRAINT members_role_check,
    ADD CONSTRAINT members_role_check CHECK (role IN ('member', 'leader', 'staff', 'province_staff', 'admin'));
ALTER TABLE invites DROP CONSTRAINT invites_role_check,
    ADD CONSTRAINT invites_role_check CHECK (role IN ('member', 'leader', 'staff', 'province_staff', 'admin'));

package raftlog

// ParticipantIdentity returns the certificate identity registered for a
// participant name: of the current registration, or, for a removed name
// still remembered, of its last one. known is false for a name neither
// registered nor remembered; identity is "" when it was registered without
// one.
func (f *FSM) ParticipantIdentity(name string) (identity string, known bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if p, ok := f.st.participants[name]; ok {
		return p.GetIdentity(), true
	}
	if rp, ok := f.st.removed[name]; ok {
		return rp.GetParticipant().GetIdentity(), true
	}
	return "", false
}

// IsParticipantIdentity reports whether identity is the registered
// certificate identity of some currently registered participant.
func (f *FSM) IsParticipantIdentity(identity string) bool {
	if identity == "" {
		return false
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, p := range f.st.participants {
		if p.GetIdentity() == identity {
			return true
		}
	}
	return false
}

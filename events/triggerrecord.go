package events

import (
	"encoding/json"
	"fmt"
)

// EncodeTrigger is the sluice_triggers record of a trigger spec, under TriggerKey(t.ID).
func EncodeTrigger(t Trigger) ([]byte, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("encode trigger %s: %w", t.ID, err)
	}
	return b, nil
}

// DecodeTrigger reads a spec record made by EncodeTrigger.
func DecodeTrigger(b []byte) (Trigger, error) {
	var t Trigger
	if err := json.Unmarshal(b, &t); err != nil {
		return Trigger{}, fmt.Errorf("trigger record: %w", err)
	}
	return t, nil
}

// EncodeTriggerStatus is the sluice_triggers record of a trigger's health, under
// TriggerStatusKey(st.ID).
func EncodeTriggerStatus(st TriggerStatus) ([]byte, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("encode status of trigger %s: %w", st.ID, err)
	}
	return b, nil
}

// DecodeTriggerStatus reads a health record made by EncodeTriggerStatus.
func DecodeTriggerStatus(b []byte) (TriggerStatus, error) {
	var st TriggerStatus
	if err := json.Unmarshal(b, &st); err != nil {
		return TriggerStatus{}, fmt.Errorf("trigger status record: %w", err)
	}
	return st, nil
}

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
	return decodeJSON[Trigger](b, "trigger record")
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
	return decodeJSON[TriggerStatus](b, "trigger status record")
}

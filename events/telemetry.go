package events

import (
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"
)

// NewMeterMsg makes the SLUICE_METERS message of one attempt's meter record, with msgID
// (MeterMsgID) as its Nats-Msg-Id.
func NewMeterMsg(m Meter, msgID string) (*nats.Msg, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode meter record of %s: %w", m.InvocationID, err)
	}
	msg := nats.NewMsg(MetersSubject(m.Function))
	msg.Header.Set(nats.MsgIdHdr, msgID)
	msg.Data = b
	return msg, nil
}

// DecodeMeter reads a SLUICE_METERS record made by NewMeterMsg.
func DecodeMeter(b []byte) (Meter, error) {
	return decodeJSON[Meter](b, "meter record")
}

// EncodeLogLine is the SLUICE_LOGS record of one line, published on LogsSubject(l.Function).
func EncodeLogLine(l LogLine) ([]byte, error) {
	b, err := json.Marshal(l)
	if err != nil {
		return nil, fmt.Errorf("encode log line of %s: %w", l.Function, err)
	}
	return b, nil
}

// DecodeLogLine reads a SLUICE_LOGS record made by EncodeLogLine.
func DecodeLogLine(b []byte) (LogLine, error) {
	return decodeJSON[LogLine](b, "log line")
}

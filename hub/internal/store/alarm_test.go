package store

import (
	"path/filepath"
	"reflect"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// A store written before alarm codes were kept holds one-byte alarm
// records: they load as alarms without a code, beside records with codes.
func TestAlarmRecordsOldAndNew(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	k := signal.Key{Site: "s", Line: "L1", Equipment: "M1"}
	c := state.Change{Key: k, First: 0, Horizon: 100, Alarm: []state.AlarmPoint{{T: 30, V: state.True, Code: "42"}, {T: 40, V: state.False}}}
	if err := s.Save([]state.Change{c}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.merge(); err != nil { // into the equipment's bucket
		t.Fatal(err)
	}
	if err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketEquipment).Bucket(eqName(k))
		return b.Put(timeKey('a', 10), []byte{byte(state.True)}) // the old form
	}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	want := []state.AlarmPoint{{T: 10, V: state.True}, {T: 30, V: state.True, Code: "42"}, {T: 40, V: state.False}}
	if !reflect.DeepEqual(got[k].Alarm, want) {
		t.Fatalf("got %+v want %+v", got[k].Alarm, want)
	}
	if b := alarmBytes(want[1]); len(b) != 4 || b[1] != alarmCodeV1 {
		t.Fatalf("encoded %v", b)
	}
	for _, v := range [][]byte{{}, {1, 9, 'x'}, {1, alarmCodeV1}} {
		if _, ok := alarmValue(0, v); ok {
			t.Fatalf("%v decoded", v)
		}
	}
}

package action

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket keeps actions in a JetStream KeyValue bucket shared by the hubs of
// a partitioned deployment: key "action.<id>" holds the action (JSON), key
// "seq" the last sequence number given out. A new action's number is taken
// by updating "seq" with the revision it was read at (a hub that loses the
// race reads it again), so two hubs never give out the same id; a hub that
// fails between taking a number and storing the action leaves a gap, and
// the number is never used. A change is written with the revision of the
// action it was applied to, and applied again to the newer one when
// another hub changed it meanwhile: no change is lost.
type Bucket struct {
	kv      jetstream.KeyValue
	timeout time.Duration
}

var _ Keeper = (*Bucket)(nil)

const (
	seqKey       = "seq"
	actionPrefix = "action."
	maxAttempts  = 50
)

// OpenBucket opens (creating when missing) the KeyValue bucket name.
func OpenBucket(ctx context.Context, js jetstream.JetStream, name string) (*Bucket, error) {
	kv, err := js.KeyValue(ctx, name)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: name,
			Description: "floorpulse actions", Storage: jetstream.FileStorage, History: 1})
		if errors.Is(err, jetstream.ErrBucketExists) { // another hub was quicker
			kv, err = js.KeyValue(ctx, name)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("action bucket %s: %w", name, err)
	}
	return &Bucket{kv: kv, timeout: 10 * time.Second}, nil
}

func (b *Bucket) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), b.timeout)
}

// next takes the next sequence number.
func (b *Bucket) next(ctx context.Context) (uint64, error) {
	for range maxAttempts {
		e, err := b.kv.Get(ctx, seqKey)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			if _, err := b.kv.Create(ctx, seqKey, []byte("1")); err == nil {
				return 1, nil
			} else if !errors.Is(err, jetstream.ErrKeyExists) {
				return 0, err
			}
			continue
		}
		if err != nil {
			return 0, err
		}
		last, err := strconv.ParseUint(string(e.Value()), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("action sequence %q: %w", e.Value(), err)
		}
		_, err = b.kv.Update(ctx, seqKey, []byte(strconv.FormatUint(last+1, 10)), e.Revision())
		if err == nil {
			return last + 1, nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyExists) {
			return 0, err
		}
	}
	return 0, errors.New("taking an action id: too many concurrent creations; try again")
}

// Create stores a new action by who at now, status open.
func (b *Bucket) Create(n New, by string, now time.Time) (Action, error) {
	n, err := n.check()
	if err != nil {
		return Action{}, err
	}
	ctx, cancel := b.ctx()
	defer cancel()
	seq, err := b.next(ctx)
	if err != nil {
		return Action{}, err
	}
	a := n.action(ID(seq), by, now)
	data, err := json.Marshal(a)
	if err != nil {
		return Action{}, err
	}
	if _, err := b.kv.Create(ctx, actionPrefix+a.ID, data); err != nil {
		return Action{}, fmt.Errorf("storing action %s: %w", a.ID, err)
	}
	return a, nil
}

// get returns an action and the revision it was read at.
func (b *Bucket) get(ctx context.Context, id string) (Action, uint64, error) {
	var a Action
	if _, ok := parseID(id); !ok {
		return a, 0, ErrNotFound
	}
	e, err := b.kv.Get(ctx, actionPrefix+id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return a, 0, ErrNotFound
	}
	if err != nil {
		return a, 0, err
	}
	return a, e.Revision(), json.Unmarshal(e.Value(), &a)
}

// Get returns one action.
func (b *Bucket) Get(id string) (Action, error) {
	ctx, cancel := b.ctx()
	defer cancel()
	a, _, err := b.get(ctx, id)
	return a, err
}

// Update applies a patch by who at now; an empty patch changes nothing.
func (b *Bucket) Update(id string, p Patch, by string, now time.Time) (Action, error) {
	ctx, cancel := b.ctx()
	defer cancel()
	for range maxAttempts {
		a, rev, err := b.get(ctx, id)
		if err != nil {
			return a, err
		}
		changed, err := a.apply(p, by, now)
		if err != nil || !changed {
			return a, err
		}
		data, err := json.Marshal(a)
		if err != nil {
			return a, err
		}
		_, err = b.kv.Update(ctx, actionPrefix+id, data, rev)
		if err == nil {
			return a, nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyExists) {
			return a, err
		}
	}
	return Action{}, fmt.Errorf("changing action %s: changed concurrently too often; try again", id)
}

// List returns the actions matching f, newest first, at most MaxList.
func (b *Bucket) List(f Filter, loc *time.Location) ([]Action, error) {
	ctx, cancel := b.ctx()
	defer cancel()
	w, err := b.kv.Watch(ctx, actionPrefix+">", jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("listing actions: %w", err)
	}
	defer w.Stop()
	var all []Action
	for {
		var e jetstream.KeyValueEntry
		select {
		case e = <-w.Updates():
		case <-ctx.Done():
			return nil, fmt.Errorf("listing actions: %w", ctx.Err())
		}
		if e == nil { // every current value was delivered
			break
		}
		var a Action
		if err := json.Unmarshal(e.Value(), &a); err != nil {
			return nil, fmt.Errorf("action %s: %w", e.Key(), err)
		}
		all = append(all, a)
	}
	slices.SortFunc(all, func(x, y Action) int { // newest first: by sequence number, descending
		sx, _ := parseID(x.ID)
		sy, _ := parseID(y.ID)
		switch {
		case sx > sy:
			return -1
		case sx < sy:
			return 1
		}
		return 0
	})
	out := []Action{}
	for _, a := range all {
		if len(out) == MaxList {
			break
		}
		if f.match(a, loc) {
			out = append(out, a)
		}
	}
	return out, nil
}

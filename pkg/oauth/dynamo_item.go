package oauth

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Item encoding. Strings are S, times epoch seconds (N), counters N; empty
// strings and zero times are left out.

func itemKey(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		AttrPK: &types.AttributeValueMemberS{Value: pk},
		AttrSK: &types.AttributeValueMemberS{Value: sk},
	}
}

func numberValue(v int64) *types.AttributeValueMemberN {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

type encoder map[string]types.AttributeValue

// newEncoder starts an item with its key, sized for n attributes.
func newEncoder(pk, sk string, n int) encoder {
	e := make(encoder, n)
	e[AttrPK] = &types.AttributeValueMemberS{Value: pk}
	e[AttrSK] = &types.AttributeValueMemberS{Value: sk}
	return e
}

func (e encoder) s(name, v string) {
	if v != "" {
		e[name] = &types.AttributeValueMemberS{Value: v}
	}
}

func (e encoder) n(name string, v int64) {
	e[name] = numberValue(v)
}

func (e encoder) t(name string, t time.Time) {
	if !t.IsZero() {
		e.n(name, t.Unix())
	}
}

// update builds an UpdateItem request whose shape depends on the values
// (an empty string or a zero time removes the attribute): SET and REMOVE
// clauses with numbered placeholders, one per attribute name.
//
// It also remembers what it writes (written, removed), so that a failed
// condition can tell whether the item already is what this update makes of
// it: the update's own earlier attempt, applied and its reply lost.
type update struct {
	sets, removes []string
	names         map[string]string
	values        map[string]types.AttributeValue
	written       map[string]types.AttributeValue
	removed       []string
}

func newUpdate(n int) *update {
	return &update{
		sets:    make([]string, 0, n),
		names:   make(map[string]string, n),
		values:  make(map[string]types.AttributeValue, n),
		written: make(map[string]types.AttributeValue, n),
	}
}

// name returns the placeholder of attribute attr (the same one each time).
func (u *update) name(attr string) string {
	for p, a := range u.names {
		if a == attr {
			return p
		}
	}
	p := "#n" + strconv.Itoa(len(u.names))
	u.names[p] = attr
	return p
}

// value returns a new placeholder for v.
func (u *update) value(v types.AttributeValue) string {
	p := ":v" + strconv.Itoa(len(u.values))
	u.values[p] = v
	return p
}

func (u *update) set(attr string, v types.AttributeValue) {
	u.sets = append(u.sets, u.name(attr)+" = "+u.value(v))
	u.written[attr] = v
}

func (u *update) remove(attr string) {
	u.removes = append(u.removes, u.name(attr))
	u.removed = append(u.removed, attr)
}

// appliedTo reports whether item holds every value u sets and none of the
// attributes u removes, apart from those in ignore.
func (u *update) appliedTo(item map[string]types.AttributeValue, ignore ...string) bool {
	if len(item) == 0 {
		return false
	}
	for attr, v := range u.written {
		if !slices.Contains(ignore, attr) && !sameValue(item[attr], v) {
			return false
		}
	}
	for _, attr := range u.removed {
		if _, ok := item[attr]; ok && !slices.Contains(ignore, attr) {
			return false
		}
	}
	return true
}

// sameItem reports whether a and b hold the same attributes with the same
// values (strings and numbers, the only kinds this store writes).
func sameItem(a, b map[string]types.AttributeValue) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !sameValue(v, b[k]) {
			return false
		}
	}
	return true
}

// sameValue compares two string or number attribute values; anything else
// (or a missing value) is never the same.
func sameValue(a, b types.AttributeValue) bool {
	switch a := a.(type) {
	case *types.AttributeValueMemberS:
		b, ok := b.(*types.AttributeValueMemberS)
		return ok && a.Value == b.Value
	case *types.AttributeValueMemberN:
		b, ok := b.(*types.AttributeValueMemberN)
		return ok && a.Value == b.Value
	}
	return false
}

// s sets a string attribute, or removes it when v is empty.
func (u *update) s(attr, v string) {
	if v == "" {
		u.remove(attr)
		return
	}
	u.set(attr, &types.AttributeValueMemberS{Value: v})
}

// t sets a time attribute (epoch seconds), or removes it when t is zero.
func (u *update) t(attr string, t time.Time) {
	if t.IsZero() {
		u.remove(attr)
		return
	}
	u.set(attr, numberValue(t.Unix()))
}

// expression is the UpdateExpression: "SET a = :v0, … REMOVE b, …".
func (u *update) expression() string {
	var b strings.Builder
	if len(u.sets) > 0 {
		b.WriteString("SET ")
		b.WriteString(strings.Join(u.sets, ", "))
	}
	if len(u.removes) > 0 {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("REMOVE ")
		b.WriteString(strings.Join(u.removes, ", "))
	}
	return b.String()
}

// decoder reads attributes, keeping the first error.
type decoder struct {
	item map[string]types.AttributeValue
	err  error
}

func (d *decoder) s(name string) string {
	av, ok := d.item[name]
	if !ok {
		return ""
	}
	v, ok := av.(*types.AttributeValueMemberS)
	if !ok {
		d.fail(fmt.Errorf("attribute %s is %T, want a string", name, av))
		return ""
	}
	return v.Value
}

func (d *decoder) n(name string) int64 {
	av, ok := d.item[name]
	if !ok {
		return 0
	}
	v, ok := av.(*types.AttributeValueMemberN)
	if !ok {
		d.fail(fmt.Errorf("attribute %s is %T, want a number", name, av))
		return 0
	}
	i, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil {
		d.fail(fmt.Errorf("attribute %s: %w", name, err))
	}
	return i
}

func (d *decoder) t(name string) time.Time {
	if _, ok := d.item[name]; !ok {
		return time.Time{}
	}
	return time.Unix(d.n(name), 0).UTC()
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

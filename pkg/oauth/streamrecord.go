package oauth

import (
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// StreamRecord is the record DynamoDB Streams (NEW_AND_OLD_IMAGES) writes
// when a connection changes from old to cur: old nil for an insert, cur nil
// for a delete (by DynamoDB's TTL when ttl). The images are the items
// DynamoStore writes. The dev server feeds its store's changes through
// connevent.Transition this way, as functions/events does with the real
// stream.
func StreamRecord(eventID string, old, cur *Connection, at time.Time, ttl bool) events.DynamoDBEventRecord {
	var oldItem, curItem map[string]types.AttributeValue
	if old != nil {
		oldItem = connectionItem(old)
	}
	if cur != nil {
		curItem = connectionItem(cur)
	}
	return itemRecord(eventID, oldItem, curItem, at, ttl)
}

// itemRecord is the stream record of an item changing from old to cur
// (either nil: an insert or a delete, by DynamoDB's TTL when ttl).
func itemRecord(eventID string, old, cur map[string]types.AttributeValue, at time.Time, ttl bool) events.DynamoDBEventRecord {
	rec := events.DynamoDBEventRecord{
		EventID:     eventID,
		EventSource: "aws:dynamodb",
		Change: events.DynamoDBStreamRecord{
			ApproximateCreationDateTime: events.SecondsEpochTime{Time: at},
			SequenceNumber:              eventID,
			StreamViewType:              "NEW_AND_OLD_IMAGES",
		},
	}
	key := cur
	switch {
	case old == nil && cur == nil:
		return rec
	case old == nil:
		rec.EventName = "INSERT"
	case cur == nil:
		rec.EventName, key = "REMOVE", old
	default:
		rec.EventName = "MODIFY"
	}
	rec.Change.Keys = StreamImage(map[string]types.AttributeValue{AttrPK: key[AttrPK], AttrSK: key[AttrSK]})
	if old != nil {
		rec.Change.OldImage = StreamImage(old)
	}
	if cur != nil {
		rec.Change.NewImage = StreamImage(cur)
	}
	if ttl && cur == nil {
		rec.UserIdentity = &events.DynamoDBUserIdentity{Type: "Service", PrincipalID: "dynamodb.amazonaws.com"}
	}
	return rec
}

// StreamImage converts an item in the DynamoDB API's form into the form of
// a stream event's image.
func StreamImage(item map[string]types.AttributeValue) map[string]events.DynamoDBAttributeValue {
	out := make(map[string]events.DynamoDBAttributeValue, len(item))
	for k, v := range item {
		out[k] = streamValue(v)
	}
	return out
}

func streamValue(v types.AttributeValue) events.DynamoDBAttributeValue {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return events.NewStringAttribute(x.Value)
	case *types.AttributeValueMemberN:
		return events.NewNumberAttribute(x.Value)
	case *types.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(x.Value)
	case *types.AttributeValueMemberB:
		return events.NewBinaryAttribute(x.Value)
	case *types.AttributeValueMemberSS:
		return events.NewStringSetAttribute(x.Value)
	case *types.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(x.Value)
	case *types.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(x.Value)
	case *types.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, len(x.Value))
		for i, e := range x.Value {
			l[i] = streamValue(e)
		}
		return events.NewListAttribute(l)
	case *types.AttributeValueMemberM:
		return events.NewMapAttribute(StreamImage(x.Value))
	}
	return events.NewNullAttribute()
}

// PendingStreamRecord is StreamRecord for a pending connection (made with a
// connect token, waiting for the app's confirmation): old nil for an
// insert, cur nil for a delete (by DynamoDB's TTL when ttl).
func PendingStreamRecord(eventID string, old, cur *PendingConnection, at time.Time, ttl bool) events.DynamoDBEventRecord {
	var oldItem, curItem map[string]types.AttributeValue
	if old != nil {
		oldItem = pendingConnectionItem(old)
	}
	if cur != nil {
		curItem = pendingConnectionItem(cur)
	}
	return itemRecord(eventID, oldItem, curItem, at, ttl)
}

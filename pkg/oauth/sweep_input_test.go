package oauth

import (
	"encoding/json"
	"os"
	"testing"
)

func TestSweepInputDecoding(t *testing.T) {
	event, err := os.ReadFile("../../events/refresh.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		in       string
		from, to int
		wantErr  bool
	}{
		{name: "events/refresh.json (EventBridge Scheduler, range in detail)", in: string(event), from: 0, to: 15},
		{name: "top level", in: `{"shard_from":2,"shard_to":5}`, from: 2, to: 5},
		{name: "detail", in: `{"source":"aws.scheduler","detail":{"shard_from":8,"shard_to":15}}`, from: 8, to: 15},
		{name: "top level wins", in: `{"shard_from":1,"shard_to":1,"detail":{"shard_from":8}}`, from: 1, to: 1},
		{name: "plain scheduled event", in: `{"source":"aws.events","detail-type":"Scheduled Event","detail":{}}`, from: 0, to: 15},
		{name: "one bound", in: `{"shard_to":3}`, from: 0, to: 3},
		{name: "out of range", in: `{"detail":{"shard_from":3,"shard_to":16}}`, wantErr: true},
		{name: "reversed", in: `{"shard_from":9,"shard_to":2}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in SweepInput
			if err := json.Unmarshal([]byte(tt.in), &in); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			from, to, err := in.shards()
			if tt.wantErr {
				if err == nil {
					t.Errorf("shards() = %d-%d, want an error", from, to)
				}
				return
			}
			if err != nil || from != tt.from || to != tt.to {
				t.Errorf("shards() = %d-%d, %v; want %d-%d", from, to, err, tt.from, tt.to)
			}
		})
	}
}

package mounts

import (
	"reflect"
	"testing"
)

func TestParsePropagation(t *testing.T) {
	tests := []struct {
		fields []string
		want   Propagation
	}{
		{nil, Propagation{Mode: "private"}},
		{[]string{"shared:30"}, Propagation{Mode: "shared", PeerGroup: 30}},
		{[]string{"master:12"}, Propagation{Mode: "slave", MasterGroup: 12}},
		{[]string{"shared:400", "master:339", "propagate_from:5"}, Propagation{Mode: "shared+slave", PeerGroup: 400, MasterGroup: 339}},
		{[]string{"unbindable"}, Propagation{Mode: "unbindable"}},
		{[]string{"future:1"}, Propagation{Mode: "private"}},
		{[]string{"shared:x"}, Propagation{Mode: "shared"}},
		{[]string{"shared:99999999999"}, Propagation{Mode: "shared"}},
	}
	for _, tt := range tests {
		if got := ParsePropagation(tt.fields); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParsePropagation(%q) = %+v, want %+v", tt.fields, got, tt.want)
		}
	}
}

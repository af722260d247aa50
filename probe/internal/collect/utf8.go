package collect

import (
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// sanitizeUTF8 replaces invalid UTF-8 in every string of m, map keys
// included. proto3 strings must be valid UTF-8 or Marshal fails, and what
// the probe reads (argv, mount points, host names, a daemon.json) is bytes
// the kernel does not check: one odd argv must not cost the whole report.
func sanitizeUTF8(m protoreflect.Message) {
	type fix struct {
		fd protoreflect.FieldDescriptor
		v  protoreflect.Value
	}
	var fixes []fix
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				switch fd.Kind() {
				case protoreflect.StringKind:
					if s := l.Get(i).String(); !utf8.ValidString(s) {
						l.Set(i, protoreflect.ValueOfString(valid(s)))
					}
				case protoreflect.MessageKind, protoreflect.GroupKind:
					sanitizeUTF8(l.Get(i).Message())
				}
			}
		case fd.IsMap():
			sanitizeMap(fd, v.Map())
		case fd.Kind() == protoreflect.StringKind:
			if s := v.String(); !utf8.ValidString(s) {
				fixes = append(fixes, fix{fd, protoreflect.ValueOfString(valid(s))})
			}
		case fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind:
			sanitizeUTF8(v.Message())
		}
		return true
	})
	for _, f := range fixes {
		m.Set(f.fd, f.v)
	}
}

func sanitizeMap(fd protoreflect.FieldDescriptor, mp protoreflect.Map) {
	type entry struct {
		oldKey protoreflect.MapKey
		key    protoreflect.MapKey
		val    protoreflect.Value
	}
	var fixes []entry
	stringKey := fd.MapKey().Kind() == protoreflect.StringKind
	valKind := fd.MapValue().Kind()
	mp.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
		e := entry{oldKey: k, key: k, val: v}
		changed := false
		if stringKey && !utf8.ValidString(k.String()) {
			e.key = protoreflect.ValueOfString(valid(k.String())).MapKey()
			changed = true
		}
		switch valKind {
		case protoreflect.StringKind:
			if !utf8.ValidString(v.String()) {
				e.val = protoreflect.ValueOfString(valid(v.String()))
				changed = true
			}
		case protoreflect.MessageKind, protoreflect.GroupKind:
			sanitizeUTF8(v.Message())
		}
		if changed {
			fixes = append(fixes, e)
		}
		return true
	})
	for _, e := range fixes {
		mp.Clear(e.oldKey)
		mp.Set(e.key, e.val)
	}
}

func valid(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

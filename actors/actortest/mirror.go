package actortest

import (
	"reflect"
	"slices"
	"testing"
)

// The edges (gateway/, admin/) copy the actors' messages field by field onto wire structs of
// their own. These checks catch a field that one side has and the other lacks, and a mapping
// that leaves a field out.

// SameFields fails t for each pair {message, wire struct} whose exported fields (embedded
// structs flattened, as encoding/json sees them) differ by name.
func SameFields(t testing.TB, pairs [][2]any) {
	t.Helper()
	for _, p := range pairs {
		mt, wt := reflect.TypeOf(p[0]), reflect.TypeOf(p[1])
		if got, want := fieldNames(wt), fieldNames(mt); !slices.Equal(got, want) {
			t.Errorf("%s has fields %v, %s has %v", wt, got, mt, want)
		}
	}
}

func fieldNames(t reflect.Type) []string {
	var out []string
	for f := range t.Fields() {
		switch {
		case f.Anonymous && f.Type.Kind() == reflect.Struct:
			out = append(out, fieldNames(f.Type)...)
		case f.IsExported():
			out = append(out, f.Name)
		}
	}
	slices.Sort(out)
	return out
}

// AllSet fails t for each value with a field (through pointers, a slice's first element and
// embedded structs) that holds its zero value: mapped from a message with every field set, it
// shows a field the mapping did not copy.
func AllSet(t testing.TB, values ...any) {
	t.Helper()
	for _, v := range values {
		if path := zeroField(reflect.ValueOf(v), reflect.TypeOf(v).String()); path != "" {
			t.Errorf("mapping left %s unset", path)
		}
	}
}

func zeroField(v reflect.Value, path string) string {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return path
		}
		return zeroField(v.Elem(), path)
	case reflect.Slice:
		if v.Len() == 0 {
			return path
		}
		return zeroField(v.Index(0), path+"[0]")
	case reflect.Struct:
		if v.Type().PkgPath() == "time" {
			if v.IsZero() {
				return path
			}
			return ""
		}
		for i := range v.NumField() {
			if p := zeroField(v.Field(i), path+"."+v.Type().Field(i).Name); p != "" {
				return p
			}
		}
		return ""
	}
	if v.IsZero() {
		return path
	}
	return ""
}

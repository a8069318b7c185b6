package web

import (
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/heraldhq/herald"
)

// jsonTypeError describes a JSON value of the wrong kind in the client's
// terms — JSON's kinds and the field's JSON path — and never names the Go
// type it was to be decoded into (which would tell a client about our
// internals and help it not at all).
func jsonTypeError(te *json.UnmarshalTypeError) error {
	if te.Field == "" {
		want := jsonKind(te.Type)
		if want == "an object" {
			return herald.Errorf(herald.EBADREQUEST, "The request body must be a JSON object.")
		}
		return herald.Errorf(herald.EBADREQUEST, "The request body must be %s.", want)
	}
	msg := fmt.Sprintf("Field %q must be %s", te.Field, jsonKind(te.Type))
	if got := jsonValueKind(te.Value); got != "" {
		msg += ", not " + got
	}
	return &herald.Error{Code: herald.EBADREQUEST, Field: te.Field, Message: msg + "."}
}

// jsonKind names the JSON kind of value that decodes into t.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "a different kind of value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "a whole number within range"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a different kind of value"
}

// jsonValueKind turns the decoder's description of what it found ("array",
// "number 1.5", "string", …) into words for the message; it is JSON's
// vocabulary already, but only the kind is kept.
func jsonValueKind(v string) string {
	switch {
	case v == "array":
		return "an array"
	case v == "object":
		return "an object"
	case v == "string":
		return "a string"
	case v == "bool":
		return "true or false"
	case v == "number" || len(v) > 7 && v[:7] == "number ":
		return "that number"
	}
	return ""
}

package containerd

import (
	"regexp"
	"strings"

	"google.golang.org/protobuf/types/known/structpb"
)

// secretValue matches `key = value` where the key names a credential in a
// containerd config: registry auth (user:password in base64), passwords,
// identity and registry tokens, Authorization headers. The value is a
// string, an array or an inline table, so `auth = { password = "x" }`
// is covered whole.
var secretValue = regexp.MustCompile(`(?i)(\b(?:auth|password|identitytoken|identity_token|registrytoken|token|secret|authorization)"?\s*=\s*)("(?:[^"\\\n]|\\.)*"|'[^'\n]*'|\[[^\]\n]*\]|\{[^}\n]*\}|[^\s,}\]]+)`)

// MaskSecrets replaces the values of credential keys in config.toml text
// with "REDACTED" before the text leaves the VM: the parsed config goes
// through the agent's redaction by key, but free text is only as safe as
// what is in it. Table headers ([...auth]) and other keys are kept.
func MaskSecrets(text string) string {
	return secretValue.ReplaceAllString(text, `${1}"REDACTED"`)
}

// secretKeys are the credential keys MaskValue redacts, lower-cased.
var secretKeys = map[string]bool{
	"auth": true, "password": true, "identitytoken": true, "identity_token": true,
	"registrytoken": true, "token": true, "secret": true, "authorization": true,
}

// MaskValue replaces, in place, the value of every credential key of a
// parsed config with "REDACTED", at any depth: the agent flattens config
// tables into text (effective settings), where redaction by key no longer
// sees them.
func MaskValue(v *structpb.Value) {
	switch k := v.GetKind().(type) {
	case *structpb.Value_StructValue:
		for key, f := range k.StructValue.GetFields() {
			if secretKeys[strings.ToLower(key)] {
				k.StructValue.Fields[key] = structpb.NewStringValue("REDACTED")
				continue
			}
			MaskValue(f)
		}
	case *structpb.Value_ListValue:
		for _, e := range k.ListValue.GetValues() {
			MaskValue(e)
		}
	}
}

package sextant

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// protocVersionLine matches the header line where protoc's version is recorded, which differs
// between machines with another protoc; the rest of the file must match byte for byte.
var protocVersionLine = regexp.MustCompile(`(?m)^// (\t|- )protoc +v[^\n]*$`)

// TestGeneratedCodeMatchesProto regenerates sextantpb from proto/ with generate.sh (protoc and
// the plugin versions go.mod pins) into a temporary directory and fails when the checked-in files
// differ: run ./generate.sh after changing the .proto.
func TestGeneratedCodeMatchesProto(t *testing.T) {
	protoc := os.Getenv("PROTOC")
	if protoc == "" {
		protoc = "protoc"
	}
	if _, err := exec.LookPath(protoc); err != nil {
		t.Skipf("protoc not found (%v): cannot check sextantpb against proto/; install protobuf-compiler", err)
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not found: cannot run generate.sh")
	}
	if _, err := os.Stat("../../proto/sextant/v1/sextant.proto"); err != nil {
		t.Skipf("proto/ is not beside this module (%v): the module was copied out of the repository", err)
	}
	out := t.TempDir()
	cmd := exec.Command("bash", "generate.sh", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("generate.sh failed: %v\n%s", err, b)
	}
	for _, name := range []string{"sextant.pb.go", "sextant_grpc.pb.go"} {
		fresh, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		checkedIn, err := os.ReadFile(filepath.Join("sextantpb", name))
		if err != nil {
			t.Fatal(err)
		}
		if protocVersionLine.Find(fresh) == nil {
			t.Fatalf("%s: no protoc version line in the header; the drift test needs updating", name)
		}
		if !bytes.Equal(protocVersionLine.Find(fresh), protocVersionLine.Find(checkedIn)) {
			t.Logf("%s: generated with %q here, checked in with %q (ignored in the comparison)",
				name, protocVersionLine.Find(fresh), protocVersionLine.Find(checkedIn))
		}
		a := protocVersionLine.ReplaceAll(fresh, nil)
		b := protocVersionLine.ReplaceAll(checkedIn, nil)
		if !bytes.Equal(a, b) {
			t.Errorf("sextantpb/%s differs from what generate.sh makes from proto/ (first difference at line %d); "+
				"run client/go/generate.sh and commit the result", name, firstDiffLine(a, b))
		}
	}
}

func firstDiffLine(a, b []byte) int {
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := 0; i < len(la) && i < len(lb); i++ {
		if la[i] != lb[i] {
			return i + 1
		}
	}
	return min(len(la), len(lb)) + 1
}

package pathmap

import (
	"errors"
	"testing"
)

func TestTranslate(t *testing.T) {
	tests := []struct {
		in                                    string
		windows, hostPath, vm, wsl, bind, unc string
	}{
		// The article's path, and its forms read back.
		{`C:\temp\WebApplication1`, `C:\temp\WebApplication1`, "/run/desktop/mnt/host/c/temp/WebApplication1", "/mnt/host/c/temp/WebApplication1", "/mnt/c/temp/WebApplication1", "C:/temp/WebApplication1", ""},
		{`c:/temp/WebApplication1/`, `C:\temp\WebApplication1`, "/run/desktop/mnt/host/c/temp/WebApplication1", "/mnt/host/c/temp/WebApplication1", "/mnt/c/temp/WebApplication1", "C:/temp/WebApplication1", ""},
		{"/run/desktop/mnt/host/c/temp/WebApplication1", `C:\temp\WebApplication1`, "/run/desktop/mnt/host/c/temp/WebApplication1", "/mnt/host/c/temp/WebApplication1", "/mnt/c/temp/WebApplication1", "C:/temp/WebApplication1", ""},
		{"/mnt/host/d/src/../x", `D:\x`, "/run/desktop/mnt/host/d/x", "/mnt/host/d/x", "/mnt/d/x", "D:/x", ""},
		{"/mnt/c/Users/me", `C:\Users\me`, "/run/desktop/mnt/host/c/Users/me", "/mnt/host/c/Users/me", "/mnt/c/Users/me", "C:/Users/me", ""},
		{`D:\`, `D:\`, "/run/desktop/mnt/host/d", "/mnt/host/d", "/mnt/d", "D:/", ""},
		// The WSL shared mount, from a distro, from the VM, by UNC.
		{"/mnt/wsl/shared/app", "", "/run/desktop/mnt/host/wsl/shared/app", "/mnt/host/wsl/shared/app", "/mnt/wsl/shared/app", "/mnt/wsl/shared/app", ""},
		{"/run/desktop/mnt/host/wsl/shared/app", "", "/run/desktop/mnt/host/wsl/shared/app", "/mnt/host/wsl/shared/app", "/mnt/wsl/shared/app", "/mnt/wsl/shared/app", ""},
		{`\\wsl$\Ubuntu\mnt\wsl\shared\app`, "", "/run/desktop/mnt/host/wsl/shared/app", "/mnt/host/wsl/shared/app", "/mnt/wsl/shared/app", "/mnt/wsl/shared/app", `\\wsl$\Ubuntu\mnt\wsl\shared\app`},
		{`\\wsl.localhost\Ubuntu\mnt\c\temp`, `C:\temp`, "/run/desktop/mnt/host/c/temp", "/mnt/host/c/temp", "/mnt/c/temp", "C:/temp", `\\wsl$\Ubuntu\mnt\c\temp`},
		// A distro's own file: no hostPath form.
		{`\\wsl$\Ubuntu\home\me\app`, "", "", "", "/home/me/app", "/home/me/app", `\\wsl$\Ubuntu\home\me\app`},
	}
	for _, tt := range tests {
		f, err := Translate(tt.in)
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if f.Windows != tt.windows || f.HostPath != tt.hostPath || f.VM != tt.vm || f.WSL != tt.wsl || f.BindMount != tt.bind || f.UNC != tt.unc {
			t.Errorf("%q = %+v", tt.in, f)
		}
	}
	if f, _ := Translate(`\\wsl$\Ubuntu\home\me\app`); f.Note == "" || f.Distro != "Ubuntu" {
		t.Errorf("distro file: %+v", f)
	}
	for _, bad := range []string{"", "relative/path", "/etc/passwd", `\\wsl$\`, "1:/x", "/mnt/data/x", "/run/desktop/mnt/host/zz/x"} {
		if _, err := Translate(bad); !errors.Is(err, ErrUnrecognized) {
			t.Errorf("%q: err = %v, want ErrUnrecognized", bad, err)
		}
	}
}

func FuzzTranslate(f *testing.F) {
	for _, s := range []string{`C:\temp\WebApplication1`, "/run/desktop/mnt/host/c/x", `\\wsl$\U\x`, `\\wsl$\U\mnt\wsl\x`, "/mnt/wsl/a", "/mnt/c", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fo, err := Translate(s)
		if err != nil || fo.HostPath == "" {
			return
		}
		// Every hostPath reads back to itself.
		back, err := Translate(fo.HostPath)
		if err != nil || back.HostPath != fo.HostPath {
			t.Fatalf("%q -> %q -> %+v, %v", s, fo.HostPath, back, err)
		}
	})
}

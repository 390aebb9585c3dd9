package phone_test

import (
	"errors"
	"testing"

	"saathi/db/phone"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"e164", "+919876543210", "+919876543210"},
		{"spaces and dashes", "+91 98765-43210", "+919876543210"},
		{"national with trunk zero", "09876543210", "+919876543210"},
		{"ten digits, India assumed", "9876543210", "+919876543210"},
		{"surrounding space", "  +91 98765 43210 ", "+919876543210"},
		{"other country", "+44 20 7946 0958", "+442079460958"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := phone.Normalize(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("Normalize(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestNormalizeInvalid(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "   ", "12345", "+91 12345", "phone", "+9198765432101234", "+999 1234567", "+91 98765 4321x"} {
		if got, err := phone.Normalize(in); !errors.Is(err, phone.ErrInvalid) {
			t.Errorf("Normalize(%q) = %q, %v; want ErrInvalid", in, got, err)
		}
	}
}

func TestMask(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"+919876543210": "+91******3210",
		"+442079460958": "+44******0958",
	}
	for in, want := range tests {
		if got := phone.Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
}

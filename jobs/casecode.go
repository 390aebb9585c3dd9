package jobs

import (
	"crypto/rand"
	"math/big"
	"strconv"
)

// NewCaseCode draws a case code: "SA-" and random digits, the only case
// identifier that goes out in texts (a staff member's phone may be seen
// by others, so it says nothing about the person, and being random it
// does not tell how many people are enrolled). attempt counts the codes
// already found taken for this survivor: four digits while they last,
// then one more digit every third attempt, so codes stay short for an NGO
// and still never run out for a national programme.
func NewCaseCode(attempt int) string {
	digits := 4 + attempt/3
	low := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(digits-1)), nil)
	span := new(big.Int).Mul(low, big.NewInt(9))
	n, err := rand.Int(rand.Reader, span)
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return "SA-" + strconv.FormatInt(n.Add(n, low).Int64(), 10)
}

package auth

import "golang.org/x/crypto/bcrypt"

// Tests hash passwords at the lowest cost, to stay quick.
func init() { bcryptCost = bcrypt.MinCost }

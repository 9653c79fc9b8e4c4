// Package captured holds payloads captured from Discord's voice gateway
// in channel 927310423890473011, as davey's test suite publishes them
// (davey-node/test/session.test.ts), for the tests of the DAVE packages:
// op 25 (ExternalSender), an op 27 append after its operation byte
// (Append: an external Add of user AddedUser with Discord's own key
// package), and the op 27 revoke of that Add after its operation byte
// (Revoke), each in hex; Self is the user whose session received them.
package captured

const (
	// Channel is the voice channel the payloads were captured in.
	Channel = 927310423890473011
	// Self is the user whose session received them.
	Self = 158049329150427136
	// AddedUser is the user Append adds.
	AddedUser = 158533742254751744

	// ExternalSender is op 25's payload, in hex.
	ExternalSender = "" +
		"404104ca1a2b102501d0672bd45ed74ffb83e078b2ba5b12c3f69fad56f083b6" +
		"a35fc989c6736b5852b5aecdfcdf206e156d3d1dba8e3e5b2f89fc0c16f11614" +
		"e84e4a00010100"
	// Append is op 27's payload after its operation byte (append), in hex.
	Append = "" +
		"41f000010001080cde77eadc8230330000000000000000020000000000020001" +
		"00010002404104a61acd34ff0548e6f767cc4df9619b51ba5814d52ee558284f" +
		"c554405768e9e741ba32276414941b7c0190dcb5dfc3349a168f1247ecbdf6fc" +
		"69f3eecab3765d404104f44da24e5aa9f73796fa38be115556e6b7d4f6ba55d2" +
		"ecc3f1b9d198af6237e3fc8fc635996b6c76e77b4acace33f5cfd745ad0d540d" +
		"d6f03f0da85c82e14714404104e7793985ed074af49568b53cf2e3974688279f" +
		"02ee8d7c7df099ce3c7a1a28e747f59a7c7c23e9ef4f7815fb3469f39ea124f8" +
		"b76712c41b763a55b867e6b48b00010802333999400200000200010200020000" +
		"020001010000000000000000ffffffffffffffff0040483046022100d874dc77" +
		"7d4ede7e6d3374f737bc1394ac0ffd0635abdc9d02b3e359e059466a022100e6" +
		"2e97aefd5c6b32ff0ac5c5159dbe94f6f5a01bd0dd14a9dcc4d1e6248972ac00" +
		"4047304502205168abdf8d83a48daf8d5960afb305022de707c7496087feb430" +
		"04c9fd2be5e80221008312a6f6df1ff593671a39f9966f6d1caef43e0c6d53c7" +
		"4300ba089ceeecfbf440473045022100cdbe804ba06a9be17615fe3c7f9055f3" +
		"1a6d0ea9402dd9fda6d109e9a3cb632b022067409e59f6b7f0a3eddd330a092a" +
		"6c13d99d12abaebe0d6d40a0dae435c2a7a2"
	// Revoke is op 27's payload after its operation byte (revoke), in hex.
	Revoke = "" +
		"212062386ffb20b28f556b2465c0a2520ba2b074fca00e94b2fdebc0496d544c" +
		"d6c0"
)

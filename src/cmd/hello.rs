//! `socklab hello`: options in, the library called, its results shown.

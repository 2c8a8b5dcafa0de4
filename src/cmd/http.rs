//! `socklab http`: options in, the library called, its results shown.

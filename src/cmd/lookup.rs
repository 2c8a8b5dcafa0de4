//! `socklab lookup`: options in, the library called, its results shown.

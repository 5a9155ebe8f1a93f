"""The question protocol, in one place: option letters, rotations, the answer schema per question
type, prompt templates and the reply parser. Providers only turn a request into their wire format
and a response into a reply; they know nothing of letters or schemas beyond what this package gives."""

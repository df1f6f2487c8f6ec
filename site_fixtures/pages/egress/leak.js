// webscan fixture: what every egress route of /egress/every-route.html asks origin P for
// (?route=<name> says which). Harmless wherever it lands: a script, a frame, an image.
var webscanEgressFixtureReached = true;

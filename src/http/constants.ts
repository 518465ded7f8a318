export const SERVICE_NAME = "roomservice";
export const REALM = SERVICE_NAME;

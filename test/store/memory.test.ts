import { openStore } from "../../src/store/open-store.ts";
import { storeContract } from "./contract.ts";

storeContract("memory", () => openStore({ type: "memory" }));
